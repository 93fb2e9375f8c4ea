#include "cplb/app/status_table.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "text_table.hpp"

namespace cplb::app::status {
namespace {

using json = nlohmann::json;

constexpr const char* green = "32";
constexpr const char* yellow = "33";
constexpr const char* red = "31";

/// A server's or a VRRP instance's state, in the colour that says how it is doing.
cell state_cell(const std::string& state) {
  if (state == "up" || state == "master") return {state, green};
  if (state == "not_ready") return {state, yellow};
  if (state == "down" || state == "draining" || state == "fault") return {state, red};
  return {state, ""};
}

/// A string member, or `fallback` when it is missing or null.
std::string text(const json& object, const char* key, const std::string& fallback = "-") {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  std::string s = it->is_string() ? it->get<std::string>() : it->dump();
  // A check's detail can be a TLS library's message: keep each row on one line.
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s;
}

/// The reason of a server's last failed check, with its detail: `http_status: 500`.
std::string last_failure(const json& server) {
  const std::string reason = text(server, "reason");
  const std::string detail = text(server, "reason_detail", "");
  return detail.empty() ? reason : reason + ": " + detail;
}

const json& array_of(const json& doc, const char* key) {
  static const json empty = json::array();
  const auto it = doc.find(key);
  if (it == doc.end()) return empty;
  if (!it->is_array()) throw std::runtime_error(std::string(key) + " is not an array");
  return *it;
}

void add_heading(const json& doc, std::vector<std::string>& out) {
  std::string line = "cplb";
  if (doc.contains("pid")) line += " pid " + text(doc, "pid");
  if (doc.contains("started_at")) line += ", started " + text(doc, "started_at");
  if (const auto config = doc.find("config"); config != doc.end() && config->is_object())
    line += (line == "cplb" ? " " : "; ") + std::string("config ") + text(*config, "file") +
            ", loaded " + text(*config, "loaded_at");
  out.push_back(line);
}

void add_frontends(const json& doc, std::vector<std::string>& out) {
  text_table t({"FRONTEND", "LISTEN", "BACKEND", "SESSIONS"});
  for (const json& f : array_of(doc, "frontends"))
    t.add({{text(f, "name"), ""},
           {text(f, "listen"), ""},
           {text(f, "backend"), ""},
           {text(f, "active_connections", "0"), ""}});
  for (auto& line : t.lines(0, false)) out.push_back(std::move(line));
}

void add_backends(const json& doc, bool colour, std::vector<std::string>& out) {
  for (const json& b : array_of(doc, "backends")) {
    std::string heading = "BACKEND " + text(b, "name") + "  balance " + text(b, "balance");
    if (b.value("all_down", false)) {
      const std::string note = "no server passes its check: all_down applies";
      heading += "  " + (colour ? "\x1b[" + std::string(red) + "m" + note + "\x1b[0m" : note);
    }
    out.push_back("");
    out.push_back(heading);
    text_table t({"SERVER", "ADDRESS", "STATE", "SESSIONS", "WEIGHT", "LAST FAILED CHECK"});
    for (const json& s : array_of(b, "servers"))
      t.add({{text(s, "name"), ""},
             {text(s, "address"), ""},
             state_cell(text(s, "state")),
             {text(s, "active_sessions", "0"), ""},
             {text(s, "weight"), ""},
             {last_failure(s), ""}});
    for (auto& line : t.lines(2, colour)) out.push_back(std::move(line));
  }
}

void add_vrrp(const json& doc, bool colour, std::vector<std::string>& out) {
  const json& instances = array_of(doc, "vrrp_instances");
  if (instances.empty()) return;
  text_table t({"VRRP INSTANCE", "STATE", "PRIORITY"});
  for (const json& v : instances)
    t.add(
        {{text(v, "name"), ""}, state_cell(text(v, "state")), {text(v, "effective_priority"), ""}});
  out.push_back("");
  for (auto& line : t.lines(0, colour)) out.push_back(std::move(line));
}

/// One row per anycast VIP: announced, or withdrawn with the reason.
void add_anycast(const json& doc, bool colour, std::vector<std::string>& out) {
  const json& vips = array_of(doc, "anycast");
  if (vips.empty()) return;
  text_table t({"ANYCAST", "VIP", "TABLE", "STATE", "WHY WITHDRAWN"});
  for (const json& a : vips) {
    const bool announced = a.value("announced", false);
    t.add({{text(a, "name"), ""},
           {text(a, "vip"), ""},
           {text(a, "table"), ""},
           announced ? cell{"announced", green} : cell{"withdrawn", red},
           {announced ? "-" : text(a, "reason"), ""}});
  }
  out.push_back("");
  for (auto& line : t.lines(0, colour)) out.push_back(std::move(line));
}

}  // namespace

std::optional<std::vector<std::string>> render_status(std::string_view json_text, bool colour,
                                                      std::string& why) {
  try {
    const json doc = json::parse(json_text);
    if (!doc.is_object()) {
      why = "the document is not a JSON object";
      return std::nullopt;
    }
    std::vector<std::string> out;
    add_heading(doc, out);
    out.push_back("");
    add_frontends(doc, out);
    add_backends(doc, colour, out);
    add_vrrp(doc, colour, out);
    add_anycast(doc, colour, out);
    return out;
  } catch (const std::exception& e) {  // nlohmann's errors, and a member of the wrong type
    why = e.what();
    return std::nullopt;
  }
}

}  // namespace cplb::app::status
