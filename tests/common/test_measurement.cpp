#include "common/measurement.h"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace autotune {
namespace {

const Status kAllStatuses[] = {Status::ok,     Status::rejected, Status::unsupported, Status::not_installed,
                               Status::oom,    Status::failed,   Status::crashed,     Status::timeout};

TEST(Status, EveryValueRoundTrips) {
  for (Status s : kAllStatuses) EXPECT_EQ(parse_status(to_string(s)), s) << to_string(s);
  EXPECT_EQ(to_string(Status::not_installed), "not_installed");
}

TEST(Status, UnknownValueNamesItAndTheValidSet) {
  try {
    parse_status("OK");
    FAIL() << "parse_status accepted 'OK'";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'OK'"), std::string::npos) << what;
    EXPECT_NE(what.find("ok, rejected, unsupported, not_installed, oom, failed, crashed, timeout"),
              std::string::npos)
        << what;
  }
}

Measurement sample() {
  Measurement m;
  m.backend = "sdpa_cudnn";
  m.backend_version = "2.11.0+cu130";
  m.shape = "flux_1024_self";
  m.status = Status::ok;
  m.median_ms = 0.397;
  m.spread = 0.012;
  m.host_ms = 0.15;
  m.samples = 200;
  m.peak_mem_bytes = 5'000'000'000;  // above 2^32: must survive as 64-bit
  m.rel_error = 2.3e-3;
  return m;
}

TEST(MeasurementJson, RoundTripsEveryField) {
  const Measurement in = sample();
  const nlohmann::json j = in;
  EXPECT_EQ(j.at("status"), "ok");
  const Measurement out = nlohmann::json::parse(j.dump()).get<Measurement>();
  EXPECT_EQ(out.backend, in.backend);
  EXPECT_EQ(out.backend_version, in.backend_version);
  EXPECT_EQ(out.shape, in.shape);
  EXPECT_EQ(out.status, in.status);
  EXPECT_EQ(out.reason, in.reason);
  EXPECT_DOUBLE_EQ(out.median_ms, in.median_ms);
  EXPECT_DOUBLE_EQ(out.spread, in.spread);
  EXPECT_DOUBLE_EQ(out.host_ms, in.host_ms);
  EXPECT_EQ(out.samples, in.samples);
  EXPECT_EQ(out.peak_mem_bytes, in.peak_mem_bytes);
  EXPECT_DOUBLE_EQ(out.rel_error, in.rel_error);
}

TEST(MeasurementJson, OptionalFieldsDefault) {
  const auto m = nlohmann::json::parse(R"({"backend":"sage","shape":"wan_720p","status":"crashed"})").get<Measurement>();
  EXPECT_EQ(m.backend, "sage");
  EXPECT_EQ(m.status, Status::crashed);
  EXPECT_EQ(m.backend_version, "");
  EXPECT_EQ(m.samples, 0);
  EXPECT_EQ(m.median_ms, 0.0);
}

TEST(MeasurementJson, MissingRequiredFieldThrows) {
  EXPECT_THROW(nlohmann::json::parse(R"({"shape":"x","status":"ok"})").get<Measurement>(), nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse(R"({"backend":"x","status":"ok"})").get<Measurement>(), nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse(R"({"backend":"x","shape":"y"})").get<Measurement>(), nlohmann::json::exception);
}

TEST(MeasurementJson, UnknownStatusThrowsInvalidArgument) {
  EXPECT_THROW(nlohmann::json::parse(R"({"backend":"x","shape":"y","status":"great"})").get<Measurement>(),
               std::invalid_argument);
}

}  // namespace
}  // namespace autotune
