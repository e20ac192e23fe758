//! Who runs a run, for the audit, when `--operator` doesn't say.

/// `$USER`, else `$LOGNAME` (`$USERNAME` on Windows), else the account's name in the password
/// database (cron jobs, `env -i` and some service managers set none of them), else `unknown`.
pub fn from_env() -> String {
    pick(|k| std::env::var(k).ok(), account_name)
}

/// The first non-empty variable, else the account name.
fn pick(var: impl Fn(&str) -> Option<String>, account: impl FnOnce() -> Option<String>) -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| var(k).filter(|v| !v.is_empty()))
        .or_else(account)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// This process's account name from the password database (`getpwuid_r`), if it has one.
#[cfg(unix)]
pub fn account_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to overwrite.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getuid has no preconditions; every pointer is valid for the call, `buf`
    // outlives the use of `pwd`'s strings, and the length passed is the buffer's.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r set pw_name to a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(not(unix))]
pub fn account_name() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_come_first_in_order_and_empty_ones_do_not_count() {
        let vars = |k: &str| match k {
            "USER" => Some(String::new()),
            "LOGNAME" => Some("logname".into()),
            _ => None,
        };
        assert_eq!(pick(vars, || Some("account".into())), "logname");
    }

    #[test]
    fn without_user_and_logname_the_account_name_is_the_operator() {
        assert_eq!(pick(|_| None, || Some("alice".into())), "alice");
        assert_eq!(pick(|_| None, || None), "unknown");
    }

    #[cfg(unix)]
    #[test]
    fn this_process_has_an_account_name() {
        let name = account_name().expect("the test user is in the password database");
        assert!(!name.is_empty());
    }
}
