#include "migrate_fixture.hpp"

#include <catch2/catch.hpp>

#include "cplb/core/text_file.hpp"
#include "cplb/config/load.hpp"

namespace cplb::app::migrate::test {
namespace {

source_file read_testdata(const std::string& name) {
  std::string why;
  const auto text = read_text_file(testdata(name), why);
  INFO(name << ": " << why);
  REQUIRE(text);
  return {testdata(name), *text};
}

std::optional<std::string> from_disk(const std::string& path) {
  std::string why;
  return read_text_file(path, why);
}

std::variant<std::string, error> run(const std::string& haproxy, const std::string& keepalived) {
  inputs in;
  in.haproxy = read_testdata(haproxy);
  if (!keepalived.empty()) in.keepalived = read_testdata(keepalived);
  in.read_file = from_disk;
  return migrate(in);
}

}  // namespace

std::string testdata(const std::string& name) {
  return std::string(CPLB_TESTDATA_DIR) + "/" + name;
}

std::variant<std::string, error> migrate_text(const std::string& haproxy,
                                              const std::string& keepalived,
                                              file_reader read_file) {
  inputs in;
  in.haproxy = {testdata("haproxy.cfg"), haproxy};
  if (!keepalived.empty()) in.keepalived = source_file{testdata("keepalived.conf"), keepalived};
  in.read_file = read_file ? std::move(read_file) : from_disk;
  return migrate(in);
}

std::string migrated(const std::string& haproxy, const std::string& keepalived) {
  auto result = run(haproxy, keepalived);
  if (const auto* e = std::get_if<error>(&result)) FAIL(e->to_string());
  return std::get<std::string>(result);
}

error migration_error(const std::string& haproxy, const std::string& keepalived) {
  auto result = run(haproxy, keepalived);
  if (const auto* yaml = std::get_if<std::string>(&result)) FAIL("migrated after all:\n" << *yaml);
  return std::get<error>(result);
}

config::config load(const std::string& yaml) {
  auto result = config::load_string(yaml, "migrated.yaml");
  if (const auto* problems = std::get_if<std::vector<config::problem>>(&result)) {
    std::string all;
    for (const auto& p : *problems) all += p.to_string() + "\n";
    FAIL("the migrated config does not pass --check:\n" << all << yaml);
  }
  return std::get<config::config>(std::move(result));
}

std::vector<std::string> not_carried_over_lines(const std::string& yaml) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < yaml.size()) {
    auto end = yaml.find('\n', start);
    if (end == std::string::npos) end = yaml.size();
    std::string line = yaml.substr(start, end - start);
    line.erase(0, line.find_first_not_of(' '));
    if (line.starts_with("# not carried over: ")) out.push_back(line);
    start = end + 1;
  }
  return out;
}

std::optional<std::string> note_for(const std::string& yaml, const std::string& what,
                                    const std::string& where) {
  const std::string head = "# not carried over: " + what + " (" + where + "): ";
  for (const auto& line : not_carried_over_lines(yaml))
    if (line.starts_with(head)) return line;
  return std::nullopt;
}

bool cites(const std::string& yaml, const std::string& where) {
  return yaml.find("(" + where + ")") != std::string::npos ||
         yaml.find("# " + where + "\n") != std::string::npos;
}

}  // namespace cplb::app::migrate::test
