package main

import (
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/sqlite"
)

// envStore is the environment variable that gives --store its default.
const envStore = "WEFT_STORE"

// durableLease is the lease of steps run against a durable store by the
// CLI: short, so that a run interrupted by a crash is resumed (weft runs
// resume) within seconds; heartbeats renew it every third.
const durableLease = 4 * time.Second

// openStore opens the store named by spec: "memory" (nothing kept) or
// "sqlite:PATH" (a database file, created when missing). It returns the
// store, a function that closes it, and whether it is durable. A malformed
// spec is a usage error; a database that cannot be opened is an error that
// says why.
func openStore(spec string) (weft.Store, func() error, bool, error) {
	switch {
	case spec == "" || spec == "memory":
		return inmem.New(), func() error { return nil }, false, nil
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		if path == "" {
			return nil, nil, false, usagef("--store %q: expected sqlite:PATH, such as sqlite:weft.db", spec)
		}
		s, err := sqlite.Open(path, nil)
		if err != nil {
			return nil, nil, false, &storeOpenError{err}
		}
		return s, s.Close, true, nil
	}
	return nil, nil, false, usagef("--store %q: expected memory or sqlite:PATH", spec)
}

// storeFlag registers --store on cmd with the given default, overridden by
// $WEFT_STORE.
func storeFlag(cmd *cobra.Command, dst *string, def, usage string) {
	if v := os.Getenv(envStore); v != "" {
		def = v
	}
	cmd.Flags().StringVar(dst, "store", def, usage+" (default from $"+envStore+")")
}

// storeOpenError is a store that could not be opened (as opposed to a
// malformed --store).
type storeOpenError struct{ err error }

func (e *storeOpenError) Error() string { return e.err.Error() }
func (e *storeOpenError) Unwrap() error { return e.err }
