#pragma once
/// Opaque secrets (refresh tokens, device tokens) and their stored form, and
/// argon2id password hashes (libsodium). Any thread; `init()` must have run
/// once before (it is idempotent and thread-safe).

#include <optional>
#include <string>
#include <string_view>

namespace peregrine::auth {

/// Initialises libsodium. Returns false when it cannot (then nothing here works).
bool init() noexcept;

/// `bytes` random bytes as lowercase hex (2 × bytes characters).
std::string random_hex(std::size_t bytes);

/// SHA-256 of `secret` as lowercase hex: the stored form of a token, so a
/// database leak does not hand out working tokens.
std::string sha256_hex(std::string_view secret);

/// Equality that takes the same time wherever the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// Cost of an argon2id hash. `interactive()` is what the server uses;
/// tests pass `minimum()` to stay fast and to exercise rehashing.
struct PasswordCost {
  unsigned long long ops;
  std::size_t mem;
  static PasswordCost interactive() noexcept;
  static PasswordCost minimum() noexcept;
};

/// `crypto_pwhash_str` (argon2id); nullopt when out of memory.
std::optional<std::string> hash_password(std::string_view password,
                                         PasswordCost cost = PasswordCost::interactive());
/// True when `password` matches `hash` (false for a malformed hash).
bool verify_password(std::string_view hash, std::string_view password);
/// True when `hash` was made with other parameters than `cost` (or is not an
/// argon2id hash): login then stores a fresh hash.
bool needs_rehash(std::string_view hash, PasswordCost cost = PasswordCost::interactive());

}  // namespace peregrine::auth
