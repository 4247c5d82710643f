"""Plumbing both emulators share: simulated clock, fault injection, callback delivery,
the loopback server runner. No provider protocol lives here (that would let a mistake
in one emulator hide in the other)."""
