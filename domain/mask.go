package domain

import "strings"

// MaskDigitRuns replaces every digit of each run of seven or more ASCII
// digits in s with '*', keeping the length. Texts from outside (an SMS
// vendor's answer, say) echo phone numbers, with or without a country
// code, and order or account numbers; shorter runs (error codes, counts,
// years) stay readable.
func MaskDigitRuns(s string) string {
	const minRun = 7
	var b *strings.Builder
	run := 0 // length of the digit run ending at i
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		if run >= minRun {
			if b == nil {
				b = &strings.Builder{}
				b.Grow(len(s))
				b.WriteString(s[:i-run])
			}
			b.WriteString(strings.Repeat("*", run))
		} else if b != nil {
			b.WriteString(s[i-run : i])
		}
		if b != nil && i < len(s) {
			b.WriteByte(s[i])
		}
		run = 0
	}
	if b == nil {
		return s
	}
	return b.String()
}
