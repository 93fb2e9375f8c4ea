#pragma once
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace cplb::log {

/// Severity of a log event.
enum class level { debug, info, warn, error };

/// One `key=value` pair of a logfmt line; values are quoted when they need it.
struct field {
  std::string_view key;
  std::string value;
  field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename Number>
    requires std::is_arithmetic_v<Number>
  field(std::string_view k, Number n) : key(k), value(std::to_string(n)) {}
};

/// Parses `debug|info|warn|error`; false when unknown.
bool parse_level(std::string_view text, level& out);

/// Sets the lowest level written (default info).
void set_level(level l);

/// True when events at `l` are written; check before building expensive fields.
bool enabled(level l);

/// Writes one logfmt line to stderr in a single write(2): `ts=… level=… msg="…" k=v …`.
void write(level l, std::string_view msg, std::initializer_list<field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<field> f = {}) {
  if (enabled(level::debug)) write(level::debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<field> f = {}) { write(level::info, msg, f); }
inline void warn(std::string_view msg, std::initializer_list<field> f = {}) { write(level::warn, msg, f); }
inline void error(std::string_view msg, std::initializer_list<field> f = {}) { write(level::error, msg, f); }

}  // namespace cplb::log
