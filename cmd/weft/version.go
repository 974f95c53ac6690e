package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the version of weft, set when building a release:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/weft
//
// When empty, the module version or the VCS revision recorded in the binary
// is used.
var version string

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of weft",
		Long: `Version prints the version of weft, the Go version it was built with, and
the operating system and architecture: "weft VERSION (GOVERSION OS/ARCH)".
With --json: {"version", "go", "os", "arch"}.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q: version takes none", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			info, ok := debug.ReadBuildInfo()
			v := versionInfo{
				Version: resolveVersion(version, info, ok),
				Go:      runtime.Version(),
				OS:      runtime.GOOS,
				Arch:    runtime.GOARCH,
			}
			out := &errWriter{w: cmd.OutOrStdout()}
			if asJSON {
				writeJSON(out, v)
			} else {
				fmt.Fprintf(out, "weft %s (%s %s/%s)\n", v.Version, v.Go, v.OS, v.Arch)
			}
			if out.err != nil {
				return writeFailed(cmd.ErrOrStderr(), out.err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"version", "go", "os", "arch"} as JSON`)
	return cmd
}

// versionInfo is what weft version prints.
type versionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// resolveVersion returns the version of weft: set, when not empty (from
// -ldflags); else the main module's version (set by go install
// module@version); else "devel", with the VCS revision when the build
// recorded it: "devel+0123456789ab", "devel+0123456789ab-dirty" for a
// modified work tree.
func resolveVersion(set string, info *debug.BuildInfo, ok bool) string {
	if set != "" {
		return set
	}
	if !ok || info == nil {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "devel+" + rev
	if dirty {
		v += "-dirty"
	}
	return v
}
