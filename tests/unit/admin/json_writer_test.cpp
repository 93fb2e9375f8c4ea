#include <catch2/catch.hpp>

#include <cstdint>

#include "json_check.hpp"
#include "json_writer.hpp"

using cplb::admin::json_quote;
using cplb::admin::json_writer;
using cplb::admin::test::valid_json;

TEST_CASE("json_quote escapes what JSON requires") {
  CHECK(json_quote("plain") == R"("plain")");
  CHECK(json_quote("a\"b\\c") == R"("a\"b\\c")");
  CHECK(json_quote("l1\nl2\r\t") == R"("l1\nl2\r\t")");
  CHECK(json_quote(std::string_view("\x01\x1f\0", 3)) == R"("\u0001\u001f\u0000")");
  CHECK(json_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST_CASE("json_quote replaces bytes that are not UTF-8") {
  CHECK(json_quote("\xff") == R"("\ufffd")");
  CHECK(json_quote("a\xc3") == R"("a\ufffd")");              // truncated sequence
  CHECK(json_quote("\xc0\xaf") == R"("\ufffd\ufffd")");      // overlong '/'
  CHECK(json_quote("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");  // a surrogate
  CHECK(valid_json(json_quote("\xfe\x80 ok \"\\")));
}

TEST_CASE("json_writer places commas and colons") {
  json_writer w;
  w.begin_object()
      .key("a").number(1)
      .key("b").begin_array().string("x").boolean(true).null().number(std::int64_t{-2}).end_array()
      .key("c").begin_object().end_object()
      .key("d").number(std::uint64_t{18'446'744'073'709'551'615u})
      .end_object();
  const std::string text = w.take();
  CHECK(text == R"({"a":1,"b":["x",true,null,-2],"c":{},"d":18446744073709551615})");
  CHECK(valid_json(text));
}

TEST_CASE("the JSON checker rejects what is not JSON") {
  CHECK(valid_json(R"( {"a": [1, -0.5e3, "\u00e9"]} )"));
  CHECK_FALSE(valid_json(R"({"a":1,})"));
  CHECK_FALSE(valid_json(R"({"a" 1})"));
  CHECK_FALSE(valid_json(R"(["x\q"])"));
  CHECK_FALSE(valid_json("[\"tab\there\"]"));
  CHECK_FALSE(valid_json("{} {}"));
  CHECK_FALSE(valid_json(""));
}
