// The testbed's pod sandbox ("pause") program (test infrastructure only).
module kapsel.invalid/testbed/pause

go 1.24.0
