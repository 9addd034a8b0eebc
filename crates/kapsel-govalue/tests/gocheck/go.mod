module kapsel/gocheck

go 1.26
