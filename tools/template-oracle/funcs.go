package main

import (
	"fmt"
	"text/template"

	"github.com/Masterminds/sprig"
)

// unsupportedSprigUsage mirrors the error Kanister's pkg/ksprig returns for
// sprig functions that are not FIPS compatible.
type unsupportedSprigUsage struct {
	usage string
}

func (e unsupportedSprigUsage) Error() string {
	return fmt.Sprintf("sprig usage of '%s' is not allowed by kanister as it is not FIPS compatible", e.usage)
}

// kanisterFuncMap returns sprig v2.22's TxtFuncMap with the replacements of
// Kanister's pkg/ksprig applied. A replacement only takes effect when sprig
// defines the name (v2.22 has derivePassword and genPrivateKey, but neither
// bcrypt nor htpasswd, so those two stay undefined functions).
func kanisterFuncMap() template.FuncMap {
	m := sprig.TxtFuncMap()
	replacements := map[string]interface{}{
		"bcrypt": func(input string) (string, error) {
			return "", unsupportedSprigUsage{"bcrypt"}
		},
		"derivePassword": func(counter uint32, passwordType, password, user, site string) (string, error) {
			return "", unsupportedSprigUsage{"derivePassword"}
		},
		"genPrivateKey": func(typ string) (string, error) {
			switch typ {
			case "rsa", "ecdsa", "ed25519":
				orig, ok := sprig.TxtFuncMap()["genPrivateKey"].(func(string) string)
				if !ok {
					return "", unsupportedSprigUsage{"genPrivateKey"}
				}
				return orig(typ), nil
			}
			return "", unsupportedSprigUsage{"genPrivateKey for " + typ}
		},
		"htpasswd": func(username string, password string) (string, error) {
			return "", unsupportedSprigUsage{"htpasswd"}
		},
	}
	for name, fn := range replacements {
		if _, ok := m[name]; ok {
			m[name] = fn
		}
	}
	return m
}
