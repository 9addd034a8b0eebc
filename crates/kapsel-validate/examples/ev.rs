fn main() {
    let src = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap();
    for ev in saphyr_parser::Parser::new_from_str(&src) {
        match ev {
            Ok((e, s)) => println!(
                "{:?} {}:{}-{}:{} [{}..{}]",
                e,
                s.start.line(),
                s.start.col(),
                s.end.line(),
                s.end.col(),
                s.start.index(),
                s.end.index()
            ),
            Err(e) => {
                println!("ERR {e:?}");
                break;
            }
        }
    }
}
