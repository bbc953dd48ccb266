#include "health/http/internal/http1.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using State = ParseResult::State;

TEST(ParseRequestTest, ParsesRequestLineHeadersAndQuery) {
  const std::string raw =
      "GET /readyz/disk%3A%2Fvar?verbose&exclude=a+b&exclude=c%26d HTTP/1.1\r\n"
      "Host: x\r\nAccept:  application/json \r\n\r\n";
  ParseResult r = ParseRequest(raw, {});
  ASSERT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.consumed, raw.size());
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.path, "/readyz/disk:/var");
  EXPECT_THAT(r.request.query,
              ElementsAre(Pair("verbose", ""), Pair("exclude", "a b"),
                          Pair("exclude", "c&d")));
  EXPECT_EQ(r.request.Header("accept"), "application/json");
  EXPECT_TRUE(r.keep_alive);
}

TEST(ParseRequestTest, IncompleteUntilTheBlankLine) {
  const std::string raw = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t n = 0; n < raw.size(); ++n) {
    EXPECT_EQ(ParseRequest(raw.substr(0, n), {}).state, State::kIncomplete)
        << n;
  }
  EXPECT_EQ(ParseRequest(raw, {}).state, State::kComplete);
}

TEST(ParseRequestTest, PipelinedRequestsParseOneAtATime) {
  const std::string a = "GET /livez HTTP/1.1\r\n\r\n";
  const std::string b = "HEAD /readyz HTTP/1.1\r\nConnection: close\r\n\r\n";
  ParseResult r = ParseRequest(a + b, {});
  ASSERT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.consumed, a.size());
  ParseResult s = ParseRequest(b, {});
  ASSERT_EQ(s.state, State::kComplete);
  EXPECT_EQ(s.request.method, "HEAD");
  EXPECT_FALSE(s.keep_alive);
}

TEST(ParseRequestTest, LenientWhereProbesNeedIt) {
  // LF-only line ends, leading empty lines, HTTP/1.0 without Host.
  ParseResult r = ParseRequest("\r\n\nGET /livez HTTP/1.0\n\n", {});
  ASSERT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.request.path, "/livez");
  EXPECT_FALSE(r.keep_alive);
  ParseResult k =
      ParseRequest("GET /livez HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", {});
  EXPECT_TRUE(k.keep_alive);
  // Absolute-form target.
  ParseResult a =
      ParseRequest("GET http://host:8080/readyz?verbose HTTP/1.1\r\n\r\n", {});
  ASSERT_EQ(a.state, State::kComplete);
  EXPECT_EQ(a.request.path, "/readyz");
  EXPECT_TRUE(a.request.HasQuery("verbose"));
}

TEST(ParseRequestTest, ReadsAndSkipsASmallBody) {
  const std::string raw =
      "POST /readyz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET";
  ParseResult r = ParseRequest(raw, {});
  ASSERT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.consumed, raw.size() - 3);
  EXPECT_EQ(ParseRequest(raw.substr(0, raw.size() - 5), {}).state,
            State::kIncomplete);
}

TEST(ParseRequestTest, ReadsAndDiscardsAChunkedBody) {
  const std::string head =
      "POST /readyz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\n";
  const std::string trailers = "X-Trailer: t\r\n\r\n";
  const std::string next = "GET /livez HTTP/1.1\r\n\r\n";
  const std::string all = head + body + trailers + next;
  // Every prefix short of the trailers' end waits for more.
  for (size_t n = 0; n < head.size() + body.size() + trailers.size(); ++n) {
    EXPECT_EQ(ParseRequest(all.substr(0, n), {}).state, State::kIncomplete)
        << n;
  }
  ParseResult r = ParseRequest(all, {});
  ASSERT_EQ(r.state, State::kComplete) << r.error_message;
  EXPECT_EQ(r.request.path, "/readyz");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.consumed, head.size() + body.size() + trailers.size());
  ParseResult second =
      ParseRequest(absl::string_view(all).substr(r.consumed), {});
  ASSERT_EQ(second.state, State::kComplete);
  EXPECT_EQ(second.request.path, "/livez");
  // Bare LF line ends and "Chunked" in any case are accepted too.
  EXPECT_EQ(ParseRequest("POST / HTTP/1.1\nTransfer-Encoding: Chunked\n\n"
                         "1\nx\n0\n\n",
                         {})
                .state,
            State::kComplete);
  // The body limit counts chunk data, not the framing.
  Http1Limits limits;
  limits.max_body = 15;
  EXPECT_EQ(ParseRequest(all, limits).state, State::kComplete);
  limits.max_body = 14;
  EXPECT_EQ(ParseRequest(all, limits).error_status, 413);
}

TEST(ParseRequestTest, ExpectContinueIsReportedUntilTheBodyArrives) {
  const std::string head =
      "POST /readyz HTTP/1.1\r\nExpect: 100-Continue\r\n"
      "Content-Length: 4\r\n\r\n";
  ParseResult partial = ParseRequest(head.substr(0, head.size() - 1), {});
  EXPECT_EQ(partial.state, State::kIncomplete);
  EXPECT_FALSE(partial.expect_continue);  // headers not complete yet
  ParseResult waiting = ParseRequest(head + "ab", {});
  EXPECT_EQ(waiting.state, State::kIncomplete);
  EXPECT_TRUE(waiting.expect_continue);
  ParseResult done = ParseRequest(head + "abcd", {});
  EXPECT_EQ(done.state, State::kComplete);
  // A chunked body asks the same way.
  EXPECT_TRUE(ParseRequest("POST / HTTP/1.1\r\nExpect: 100-continue\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n",
                           {})
                  .expect_continue);
  // Too large: refused before the client sends it.
  EXPECT_EQ(ParseRequest("POST / HTTP/1.1\r\nExpect: 100-continue\r\n"
                         "Content-Length: 99999\r\n\r\n",
                         {})
                .error_status,
            413);
  // No body, nothing to continue: the request is complete.
  EXPECT_EQ(
      ParseRequest("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", {}).state,
      State::kComplete);
}

struct BadCase {
  std::string name;
  std::string raw;
  int status;
};

class BadRequestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRequestTest, RefusedWithStatus) {
  Http1Limits limits;
  limits.max_request_line = 64;
  limits.max_header_bytes = 128;
  limits.max_headers = 4;
  limits.max_body = 16;
  ParseResult r = ParseRequest(GetParam().raw, limits);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.error_status, GetParam().status) << r.error_message;
}

INSTANTIATE_TEST_SUITE_P(
    All, BadRequestTest,
    ::testing::Values(
        BadCase{"long_line_complete",
                "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", 414},
        BadCase{"long_line_partial", "GET /" + std::string(100, 'a'), 414},
        BadCase{"big_headers_complete",
                "GET / HTTP/1.1\r\nX: " + std::string(200, 'b') + "\r\n\r\n",
                431},
        BadCase{"big_headers_partial",
                "GET / HTTP/1.1\r\nX: " + std::string(200, 'b'), 431},
        BadCase{
            "too_many_headers",
            "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n",
            431},
        BadCase{"big_body", "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n",
                413},
        BadCase{
            "huge_body",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            400},
        BadCase{"conflicting_length",
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: "
                "2\r\n\r\n",
                400},
        BadCase{"negative_length",
                "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        BadCase{"chunked_and_length",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                "Content-Length: 3\r\n\r\n",
                400},
        BadCase{"gzip_coding",
                "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        BadCase{"gzip_then_chunked",
                "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501},
        BadCase{"chunked_in_http10",
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        BadCase{"chunked_too_big",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "9\r\n123456789\r\n8\r\n",
                413},
        BadCase{"chunk_size_not_hex",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\n",
                400},
        BadCase{"chunk_size_overflow",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "fffffffffffffffff\r\n",
                400},
        BadCase{"chunk_without_crlf",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabcX",
                400},
        BadCase{"unknown_expectation",
                "POST / HTTP/1.1\r\nExpect: 200-ok\r\n"
                "Content-Length: 1\r\n\r\n",
                417},
        BadCase{"no_version", "GET /\r\n\r\n", 400},
        BadCase{"bad_version", "GET / HTTP/2.0\r\n\r\n", 505},
        BadCase{"garbage_version", "GET / FOO\r\n\r\n", 400},
        BadCase{"bad_method", "G(T / HTTP/1.1\r\n\r\n", 400},
        BadCase{"double_space", "GET  / HTTP/1.1\r\n\r\n", 400},
        BadCase{"relative_target", "GET readyz HTTP/1.1\r\n\r\n", 400},
        BadCase{"bad_escape", "GET /%zz HTTP/1.1\r\n\r\n", 400},
        BadCase{"nul_escape", "GET /a%00 HTTP/1.1\r\n\r\n", 400},
        BadCase{"obs_fold", "GET / HTTP/1.1\r\nA: 1\r\n  folded\r\n\r\n", 400},
        BadCase{"no_colon", "GET / HTTP/1.1\r\nnocolon\r\n\r\n", 400},
        BadCase{"space_in_name", "GET / HTTP/1.1\r\nA b: 1\r\n\r\n", 400},
        BadCase{"binary", std::string("\x16\x03\x01\x02\x00\x01\x00\r\n", 9),
                400}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return info.param.name;
    });

TEST(SerializeResponseTest, WritesHeadersLengthAndBody) {
  HttpResponse r = HttpResponse::Text(503, "not ready\n");
  r.headers.emplace_back("X-Evil", "a\r\nInjected: 1");
  const std::string out = SerializeResponse(r, false, true);
  EXPECT_EQ(out,
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 10\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "X-Evil: a  Injected: 1\r\n"
            "Connection: keep-alive\r\n\r\n"
            "not ready\n");
}

TEST(SerializeResponseTest, HeadKeepsLengthDropsBody) {
  const std::string out =
      SerializeResponse(HttpResponse::Text(200, "ok\n"), true, false);
  EXPECT_THAT(out, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n\r\n"));
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(SerializeResponseTest, NoContentHasNoLength) {
  const std::string out =
      SerializeResponse(HttpResponse::Text(204, ""), false, true);
  EXPECT_THAT(out, ::testing::StartsWith("HTTP/1.1 204 No Content\r\n"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("Content-Length")));
}

TEST(PercentDecodeTest, DecodesAndRejects) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%2Fb+c", false, &out));
  EXPECT_EQ(out, "a/b+c");
  EXPECT_TRUE(PercentDecode("a%2fb+c", true, &out));
  EXPECT_EQ(out, "a/b c");
  EXPECT_FALSE(PercentDecode("%", false, &out));
  EXPECT_FALSE(PercentDecode("%4", false, &out));
  EXPECT_FALSE(PercentDecode("%G0", false, &out));
  EXPECT_FALSE(PercentDecode("%00", false, &out));
}

}  // namespace
}  // namespace internal
}  // namespace http
}  // namespace vigil
