#include "haproxy_http_check.hpp"

#include <algorithm>
#include <cctype>

#include "numbers.hpp"
#include "yaml_writer.hpp"

namespace cplb::app::migrate::haproxy {
namespace {

/// `200`, `200,204`, `200-299` as status codes; nullopt when it is none of those.
std::optional<std::vector<std::string>> status_codes(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(start, comma - start);
    const auto dash = item.find('-');
    const auto low = whole_number(item.substr(0, dash), 100, 599);
    const auto high =
        dash == std::string::npos ? low : whole_number(item.substr(dash + 1), 100, 599);
    if (!low || !high || *high < *low) return std::nullopt;
    for (unsigned code = *low; code <= *high; ++code) out.push_back(std::to_string(code));
    start = comma + 1;
  }
  return out;
}

/// Whether cplb takes `name: value` as an extra request header.
bool acceptable_header(const std::string& name, const std::string& value) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
  return token && lower != "content-length" && lower != "transfer-encoding" &&
         lower != "connection" && value.find_first_of("\r\n") == std::string::npos;
}

void add_header(context& ctx, http_request& r, const std::string& name, const std::string& text,
                const origin& at, remarks& notes) {
  if (!acceptable_header(name, text)) {
    ctx.remark(notes, not_carried_over("header " + name, at, "cplb sets or refuses this header"));
    return;
  }
  std::erase_if(r.headers, [&](const auto& h) { return h.first == name; });
  r.headers.emplace_back(name, value{yaml_scalar(text), from("hdr " + name, at)});
}

/// `option httpchk [METHOD] [URI] [VERSION[\r\nHeader: value...]]`
void read_httpchk(context& ctx, const directive& d, http_request& r, remarks& notes) {
  const std::vector<std::string> args(d.words.begin() + 2, d.words.end());
  r.at = d.at;
  if (args.size() == 1) r.path = args[0];
  if (args.size() >= 2) {
    r.method = args[0];
    r.path = args[1];
  }
  if (args.size() < 3) return;
  // The old way to send headers: after the version, separated by CRLF.
  std::string rest = args[2];
  for (std::size_t i = 3; i < args.size(); ++i) rest += " " + args[i];
  std::size_t start = rest.find("\r\n");
  while (start != std::string::npos) {
    const auto end = rest.find("\r\n", start + 2);
    const std::string line =
        rest.substr(start + 2, end == std::string::npos ? end : end - start - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string text = line.substr(colon + 1);
      text.erase(0, text.find_first_not_of(' '));
      add_header(ctx, r, line.substr(0, colon), text, d.at, notes);
    }
    start = end;
  }
}

/// `http-check send meth M uri U [ver V] [hdr NAME VALUE]... [body B]`
void read_send(context& ctx, const directive& d, http_request& r, remarks& notes) {
  for (std::size_t i = 2; i + 1 < d.words.size(); i += 2) {
    const std::string& key = d.words[i];
    const std::string& arg = d.words[i + 1];
    if (key == "meth") {
      r.method = arg;
    } else if (key == "uri") {
      r.path = arg;
      r.at = d.at;
    } else if (key == "ver") {
      continue;  // cplb speaks HTTP/1.1
    } else if (key == "hdr" && i + 2 < d.words.size()) {
      add_header(ctx, r, arg, d.words[i + 2], d.at, notes);
      ++i;
    } else {
      ctx.remark(notes, not_carried_over("http-check send " + key + " " + arg, d.at,
                                         "cplb's checks send a GET without a body"));
    }
  }
}

/// `http-check expect status CODES`
void read_expect(context& ctx, const directive& d, http_request& r, remarks& notes) {
  const std::vector<std::string>& w = d.words;
  const auto codes = w.size() == 4 && w[2] == "status" ? status_codes(w[3]) : std::nullopt;
  if (!codes || r.expect_status) {
    ctx.remark(notes, not_carried_over(d.text(), d.at,
                                       r.expect_status ? "cplb checks one expect_status list"
                                                       : "cplb checks the status code only"));
    return;
  }
  r.expect_status = value{yaml_flow_list(*codes), from(d.text(), d.at)};
}

}  // namespace

http_request read_http_check(context& ctx, proxy_view& proxy, const directive& option,
                             remarks& notes) {
  http_request r;
  read_httpchk(ctx, option, r, notes);
  for (const directive* d : proxy.rules("http-check")) {
    const std::string rule = d->sub();
    if (rule == "send")
      read_send(ctx, *d, r, notes);
    else if (rule == "expect")
      read_expect(ctx, *d, r, notes);
    else if (rule != "connect")
      ctx.remark(notes, not_carried_over(d->text(), d->at, "cplb has no equivalent"));
  }
  if (r.method != "GET")
    ctx.remark(notes, not_carried_over("method " + r.method, r.at, "cplb's checks send GET"));
  return r;
}

}  // namespace cplb::app::migrate::haproxy
