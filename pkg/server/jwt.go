package server

import "github.com/golang-jwt/jwt/v5"

// jwtSubject returns registered claims naming only the subject; Sessions.Mint
// fills in the rest.
func jwtSubject(sub string) jwt.RegisteredClaims { return jwt.RegisteredClaims{Subject: sub} }
