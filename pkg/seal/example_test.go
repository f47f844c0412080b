package seal_test

import (
	"context"
	"fmt"
	"log"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// Example walks the key hierarchy: the master keyring wraps a tenant key,
// the tenant key seals a record, and a password-derived key wraps the DEK
// that seals a secret's body.
func Example() {
	ctx := context.Background()
	keyring, err := seal.ParseKeyring([]byte(opensslKey)) // in production: LoadKeyringFile
	if err != nil {
		log.Fatal(err)
	}

	// A new installation gets a random tenant key, stored wrapped.
	raw, err := seal.RandomKey()
	if err != nil {
		log.Fatal(err)
	}
	wrappedTenantKey, err := keyring.Seal(raw, seal.AD("tenant", "client-1", "key"))
	if err != nil {
		log.Fatal(err)
	}
	clear(raw)

	// Later: unwrap it and seal a record, bound to where it is stored.
	raw, err = keyring.Open(wrappedTenantKey, seal.AD("tenant", "client-1", "key"))
	if err != nil {
		log.Fatal(err)
	}
	tenant, err := seal.NewTenantKey(raw)
	clear(raw)
	if err != nil {
		log.Fatal(err)
	}
	record, err := tenant.Seal([]byte(`{"title":"Database"}`), seal.AD("tenant", "client-1", "secrets", "s1"))
	if err != nil {
		log.Fatal(err)
	}

	// The body: a DEK seals it, a key derived from the password wraps the DEK.
	kdf, err := seal.NewKDF(64<<20, seal.MinKDFParams) // production: DefaultKDFParams
	if err != nil {
		log.Fatal(err)
	}
	params, err := kdf.NewParams() // stored with the secret
	if err != nil {
		log.Fatal(err)
	}
	kek, err := kdf.DeriveKey(ctx, []byte("correct horse"), params)
	if err != nil {
		log.Fatal(err)
	}
	dek, err := seal.RandomKey()
	if err != nil {
		log.Fatal(err)
	}
	wrappedDEK, err := kek.Seal(dek, seal.AD("tenant", "client-1", "secrets", "s1", "dek"))
	if err != nil {
		log.Fatal(err)
	}
	bodyKey, err := seal.NewKey(0, dek)
	clear(dek)
	if err != nil {
		log.Fatal(err)
	}
	body, err := bodyKey.Seal([]byte("hunter2"), seal.AD("tenant", "client-1", "secrets", "s1", "v1"))
	if err != nil {
		log.Fatal(err)
	}

	// Unlock with a wrong password: the DEK does not unwrap.
	wrong, err := kdf.DeriveKey(ctx, []byte("incorrect horse"), params)
	if err != nil {
		log.Fatal(err)
	}
	_, err = wrong.Open(wrappedDEK, seal.AD("tenant", "client-1", "secrets", "s1", "dek"))
	fmt.Println("wrong password:", err)

	// And with the right one.
	dek, err = kek.Open(wrappedDEK, seal.AD("tenant", "client-1", "secrets", "s1", "dek"))
	if err != nil {
		log.Fatal(err)
	}
	bodyKey, err = seal.NewKey(0, dek)
	clear(dek)
	if err != nil {
		log.Fatal(err)
	}
	plaintext, err := bodyKey.Open(body, seal.AD("tenant", "client-1", "secrets", "s1", "v1"))
	if err != nil {
		log.Fatal(err)
	}
	meta, err := tenant.Open(record, seal.AD("tenant", "client-1", "secrets", "s1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s\n", meta, plaintext)
	fmt.Printf("%v\n", tenant)
	// Output:
	// wrong password: seal: cannot open sealed value
	// {"title":"Database"} hunter2
	// [redacted]
}
