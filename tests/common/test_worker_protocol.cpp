// The protocol's event names are one list (common/worker_protocol.h). The parent reads them from
// it and the worker writes them from it: its source names every event as event_name(Event::...)
// and spells none as a string. The tests' fake worker, in Python, is checked against the list
// here: it writes every listed name and no other.
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

TEST(WorkerProtocol, TheWorkerWritesEachEventFromTheList) {
  const std::string worker = source("worker/worker.cpp");
  // An event spelled as a string, as {"event", "x"} or j["event"] = "x", bypasses the list.
  for (const auto& n : names_written(worker, std::regex(R"re((?:\{"event", |\["event"\] = )"([a-z_]+)")re")))
    ADD_FAILURE() << "worker.cpp writes the event \"" << n << "\" as a string, not as event_name(Event::...)";
  // And it writes each one (a compiler checks that each Event:: it names exists).
  EXPECT_EQ(names_written(worker, std::regex(R"re((?:\{"event", |\["event"\] = )event_name\(Event::([a-z_]+)\))re")),
            protocol_names());
}

TEST(WorkerProtocol, TheFakeWorkerWritesEveryListedNameAndNoOther) {
  const auto names = names_written(source("tests/boot/tuning/fake_worker.py"), std::regex(R"re("event": "([a-z_]+)")re"));
  EXPECT_EQ(names, protocol_names());
}

}  // namespace
}  // namespace autotune
