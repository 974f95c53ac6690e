package postgres

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weft-dev/weft"
)

// Conversions between weft's values and the database's.

// ts is t as a timestamptz, NULL for the zero time.
func ts(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// timeOf is a timestamptz as a time, the zero time for NULL.
func timeOf(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time
}

// errorInfo is the recorded error of a code and a message, nil when the
// code is NULL.
func errorInfo(code, msg pgtype.Text) *weft.ErrorInfo {
	if !code.Valid {
		return nil
	}
	return &weft.ErrorInfo{Code: weft.Code(code.String), Message: msg.String}
}

// errorText is the code and message of an error, NULL for none.
func errorText(e *weft.ErrorInfo) (code, msg pgtype.Text) {
	if e == nil {
		return pgtype.Text{}, pgtype.Text{}
	}
	return pgtype.Text{String: text(string(e.Code)), Valid: true}, pgtype.Text{String: text(e.Message), Valid: true}
}

// text makes free text (messages, reasons, names) storable in a text
// column: PostgreSQL's text holds valid UTF-8 without NUL bytes, so
// invalid bytes and NULs become U+FFFD. Ids are stored as they are.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
