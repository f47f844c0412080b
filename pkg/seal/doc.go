// Package seal is the cryptography layer of Secrets: the master keyring,
// tenant keys, the sealed-value envelope and the password key derivation.
// Every byte the app stores encrypted goes through this package, and no other
// package handles a raw key.
//
// # Key hierarchy
//
//	master Keyring (file or env, never in the database; key ids 1, 2, …)
//	  └─ Keyring.Seal wraps ─▶ tenant key (RandomKey, one per installation)
//	        NewTenantKey derives two independent subkeys with HKDF-SHA256:
//	        ├─ TenantKey.Seal ─▶ every stored record of the tenant (key id 0)
//	        └─ TenantKey.MAC  ─▶ index keys (container ids, attempt counters)
//	password ─ KDF.DeriveKey (argon2id, per-secret KDFParams) ─▶ KEK (*Key, id 0)
//	  └─ Key.Seal wraps ─▶ DEK (RandomKey, one per secret)
//	        └─ Key.Seal ─▶ the secret's body
//
// Rotating the master keyring (Keyring.Rotate) only means re-wrapping tenant
// keys; records sealed under a tenant key are untouched. A wrong password is
// an ordinary ErrOpen when unwrapping the DEK, so nothing is stored that could
// check a password guess offline without paying for argon2id.
//
// # Envelope
//
// Every sealed value is
//
//	version (1 byte, = 1) | key id (uint32, big-endian) | nonce (24 random bytes) | ciphertext+tag
//
// sealed with XChaCha20-Poly1305. The version byte and the key id are part of
// the AEAD's associated data, followed by the caller's associated data, which
// names the value's location (see AD). So a value copied to another record,
// another tenant or another key id, or a header that was edited, fails to open
// with ErrOpen, and the reason is never told apart. Random 192-bit nonces make
// nonce reuse under one key negligible without any nonce bookkeeping.
//
// Key id 0 is reserved for keys that do not live in the keyring (tenant record
// keys and password-derived keys); keyring ids start at 1, so an envelope
// sealed by one kind of key is never opened by a key of the other kind.
//
// # Memory
//
// argon2id allocates all of its memory on every call. KDF runs derivations
// behind a FIFO semaphore so that at most a configured budget of argon2 memory
// is live at once; callers queue (bounded by their context) instead of failing
// or exhausting memory. The memory of a finished derivation is garbage until
// the Go collector runs, so the process should also run with GOMEMLIMIT set
// comfortably above the budget.
//
// # Secrecy
//
// Key, TenantKey and Keyring print as "[redacted]" with every fmt verb, and
// errors from this package never contain key material, passwords or
// plaintexts. Raw key bytes this package owns are cleared once they are no
// longer needed; Go cannot promise that no copy remains elsewhere in memory.
//
// All types are safe for concurrent use. Keyring values are immutable:
// Rotate and Retire return new keyrings.
package seal
