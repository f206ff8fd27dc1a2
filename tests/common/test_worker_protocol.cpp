// The protocol's event names are one list (common/worker_protocol.h). The parent reads them from
// it; until the worker writes them from it too, its source and the tests' fake worker are checked
// against the list here: every name they write is in it, and the fake worker writes every one.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>

#include "common/worker_protocol.h"

namespace autotune {
namespace {

std::string source(const std::string& relative) {
  std::ifstream in(std::string(AUTOTUNE_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in) << relative;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::set<std::string> names_written(const std::string& text, const std::regex& pattern) {
  std::set<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

std::set<std::string> protocol_names() {
  std::set<std::string> out;
  for (const auto& [event, name] : protocol::kEvents) out.insert(std::string(name));
  return out;
}

TEST(WorkerProtocol, EachEventHasOneNameAndParsesBack) {
  std::set<std::string> seen;
  for (const auto& [event, name] : protocol::kEvents) {
    EXPECT_TRUE(seen.insert(std::string(name)).second) << name;
    EXPECT_EQ(protocol::event_name(event), name);
    EXPECT_EQ(protocol::parse_event(name), event);
  }
  EXPECT_FALSE(protocol::parse_event("hell"));
}

TEST(WorkerProtocol, TheWorkerWritesOnlyTheListedNames) {
  const std::string worker = source("worker/worker.cpp");
  std::set<std::string> names;
  const std::regex pattern(R"re(\{"event", "([a-z_]+)"\}|\["event"\] = "([a-z_]+)")re");
  for (std::sregex_iterator it(worker.begin(), worker.end(), pattern), end; it != end; ++it)
    names.insert((*it)[1].matched ? (*it)[1].str() : (*it)[2].str());
  ASSERT_FALSE(names.empty()) << "no event written in worker.cpp: has the way it writes them changed?";
  for (const auto& n : names) EXPECT_TRUE(protocol_names().count(n)) << "worker.cpp writes \"" << n << "\"";
}

TEST(WorkerProtocol, TheFakeWorkerWritesEveryListedNameAndNoOther) {
  const auto names = names_written(source("tests/boot/tuning/fake_worker.py"), std::regex(R"re("event": "([a-z_]+)")re"));
  EXPECT_EQ(names, protocol_names());
}

}  // namespace
}  // namespace autotune
