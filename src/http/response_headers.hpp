#pragma once
// Headers the HTTP server adds to responses: the security headers of every
// response, and CORS for the origins on the allow-list (their preflight
// OPTIONS is answered here). Pure functions of the request; any thread.

#include <string>
#include <string_view>
#include <vector>

#include <peregrine/http/router.hpp>

namespace peregrine::http {

void add_security_headers(Response& res);
/// The request's Origin when it is on the allow-list, else empty.
std::string_view allowed_origin(const std::vector<std::string>& allowed, const RawRequest& req);
bool is_preflight(const RawRequest& req);
Response preflight_response(const RawRequest& req);
void add_cors_headers(Response& res, std::string_view origin);

}  // namespace peregrine::http
