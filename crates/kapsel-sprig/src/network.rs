//! `getHostByName` (sprig's `network.go`), resolved through the system resolver
//! via `std::net::ToSocketAddrs` (Go uses its own resolver or cgo; both read the
//! same system configuration, but the answer order may differ).

use std::net::ToSocketAddrs;

use kapsel_govalue::{FuncError, Value};
use rand::Rng;

use crate::conv::arg_str;

/// Go's panic when the lookup found nothing (`rand.Intn(0)`).
const NO_ADDRS: &str = "invalid argument to Intn";

pub(crate) fn get_host_by_name(a: &[Value]) -> Result<Value, FuncError> {
    let name = &*arg_str(a, 0)?;
    let mut addrs: Vec<String> = Vec::new();
    if let Ok(it) = (name, 0u16).to_socket_addrs() {
        for sa in it {
            let ip = sa.ip().to_string();
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    if addrs.is_empty() {
        return Err(FuncError::new(NO_ADDRS));
    }
    let i = rand::rng().random_range(0..addrs.len());
    Ok(Value::string(addrs.swap_remove(i)))
}
