package weft

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Duration is a time.Duration written in documents as a Go duration string:
// "250ms", "1.5s", "2m", "1h30m". Negative durations are refused.
type Duration time.Duration

// ParseDuration parses s as a non-negative Go duration string. It returns an
// error that says what was expected when s is malformed or negative.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: expected a number with a unit, such as \"250ms\", \"1.5s\" or \"2m\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative: a duration must be zero or more", s)
	}
	return Duration(d), nil
}

// String formats d as a Go duration string, such as "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string. It returns an error for anything
// else, including bare numbers, whose unit would be a guess.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("expected a duration string such as \"30s\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
