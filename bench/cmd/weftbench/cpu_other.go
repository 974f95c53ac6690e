//go:build !unix

package main

import "time"

// cpuTime returns 0: the CPU time is only measured on Unix.
func cpuTime() time.Duration { return 0 }
