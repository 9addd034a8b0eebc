//! Running an argv through a POSIX shell script instead of passing it
//! whole, so that a command holding a secret value never travels as argv in
//! an API request or a pod spec: the platforms hand the script to the shell
//! through a Secret volume (task pods) or stdin (exec).

use crate::platform::Stdin;

/// A POSIX shell script that runs `argv` exactly (`exec 'a' 'b' ...`, each
/// argument single-quoted, `'` written as `'\''`).
pub fn script(argv: &[String]) -> String {
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    format!("exec {}\n", quoted.join(" "))
}

/// The shell that runs the script: the command's own when it is one (the
/// image surely has it), else `sh`.
pub fn shell(argv: &[String]) -> String {
    let first = argv.first().map(String::as_str).unwrap_or_default();
    let base = first.rsplit('/').next().unwrap_or_default();
    if matches!(base, "sh" | "bash" | "ash" | "dash" | "ksh" | "zsh") {
        first.to_string()
    } else {
        "sh".to_string()
    }
}

/// `argv` as `<shell> -s` reading [`script`] on its standard input (for an
/// exec that takes no input of its own).
pub fn via_stdin(argv: &[String]) -> (Vec<String>, Stdin) {
    (
        vec![shell(argv), "-s".to_string()],
        Stdin(script(argv).into_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    #[test]
    fn the_script_runs_argv_exactly() {
        let tricky = [
            "a'b",
            "\"q\"",
            "$HOME",
            "back\\slash",
            "two\nlines",
            "",
            "*",
        ];
        let mut argv: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            "printf '[%s]' \"$@\"".into(),
            "sh".into(),
        ];
        argv.extend(tricky.iter().map(|s| s.to_string()));
        let (cmd, stdin) = via_stdin(&argv);
        assert_eq!(cmd, ["sh", "-s"]);
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&stdin.0).unwrap();
        let out = child.wait_with_output().unwrap();
        let want: String = tricky.iter().map(|s| format!("[{s}]")).collect();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
    }

    #[test]
    fn the_shell_is_the_commands_own_when_it_is_one() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(shell(&v(&["/bin/bash", "-c", "x"])), "/bin/bash");
        assert_eq!(shell(&v(&["mysql", "-pX"])), "sh");
        assert_eq!(shell(&[]), "sh");
    }
}
