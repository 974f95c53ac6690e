package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// buildWeft builds the weft command into dir and returns its path.
func buildWeft(dir string) (string, error) {
	bin := filepath.Join(dir, "weft")
	build := exec.Command("go", "build", "-o", bin, "github.com/weft-dev/weft/cmd/weft")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build weft (run inside the repository): %w", err)
	}
	return bin, nil
}

// withParams returns dsn, a postgres:// URL, with the query parameters of
// kv (name, value, name, value...) set.
func withParams(dsn string, kv ...string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", fmt.Errorf("-dsn must be a URL such as postgres://USER@HOST:5432/DB?sslmode=disable (weft worker --store takes only that form)")
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// storeURL returns the --store URL of weft worker for schema in the
// database of dsn, its connections named app (application_name).
func storeURL(dsn, schema, app string) (string, error) {
	return withParams(dsn, "weft_schema", schema, "application_name", app)
}

// worker is a running weft worker process.
type worker struct {
	// id is the worker's name in leases and events, as it printed it.
	id   string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
}

// working matches the line weft worker prints once it works.
var working = regexp.MustCompile(`^weft: worker (\S+) working for `)

// startWorker starts bin worker on store with the given concurrency and
// returns once it has printed its first line (it is then claiming steps).
// With profile set it writes its CPU profile there when stopped. Its
// standard error goes to ours.
func startWorker(bin, store string, concurrency int, profile string) (*worker, error) {
	args := []string{"worker", "--store", store, "--concurrency", strconv.Itoa(concurrency), "--log-level", "warn"}
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &worker{cmd: cmd, done: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		line := ""
		if sc.Scan() {
			line = sc.Text()
		}
		first <- line
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(w.done)
	}()
	select {
	case line := <-first:
		m := working.FindStringSubmatch(line)
		if m == nil {
			w.kill()
			return nil, fmt.Errorf("weft worker did not start: it printed %q (see its standard error above)", line)
		}
		w.id = m[1]
	case <-time.After(time.Minute):
		w.kill()
		return nil, errors.New("weft worker printed nothing for a minute")
	}
	return w, nil
}

// pid returns the worker's process id.
func (w *worker) pid() int { return w.cmd.Process.Pid }

// stop asks the worker to stop (as Ctrl-C does: it drains and writes its
// profile) and waits for it, killing it after 30 s. It returns an error
// unless it exited by itself with status 0.
func (w *worker) stop() error {
	w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.kill()
		return fmt.Errorf("weft worker %s did not stop within 30s of SIGINT: killed", w.id)
	}
	if !w.cmd.ProcessState.Success() {
		return fmt.Errorf("weft worker %s: %s", w.id, w.cmd.ProcessState)
	}
	return nil
}

// kill ends the worker at once and waits for it.
func (w *worker) kill() {
	w.cmd.Process.Kill()
	<-w.done
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ),
// 100 per second on Linux.
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time (user and system) process pid has used, read
// from /proc (Linux), and whether it could be read.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	_, cpu, ok := parseStat(b)
	return cpu, ok
}

// parseStat returns the command name and the CPU time of a /proc/PID/stat
// line: "PID (COMM) STATE ..." where utime and stime are the 14th and 15th
// fields. COMM may hold spaces and parentheses, so the fields are counted
// from its last ')'.
func parseStat(b []byte) (comm string, cpu time.Duration, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	fields := bytes.Fields(b[end+1:]) // fields[0] is the 3rd field, STATE
	if len(fields) < 13 {
		return "", 0, false
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return string(b[open+1 : end]), time.Duration(utime+stime) * clockTick, true
}

// backendCPU returns the CPU time used so far by each PostgreSQL backend
// whose application_name is app or app+submitSuffix (the connections of
// one run's processes), by process id. The backends run on this machine
// (the DSN names a local server) and /proc holds their times; those it
// cannot read are left out.
func backendCPU(ctx context.Context, admin *pgx.Conn, app string) (map[int]time.Duration, error) {
	rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name IN ($1, $2)`, app, app+submitSuffix)
	if err != nil {
		return nil, fmt.Errorf("list the run's backends: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("list the run's backends: %w", err)
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if cpu, ok := procCPU(int(pid)); ok {
			out[int(pid)] = cpu
		}
	}
	return out, nil
}

// cpuDelta returns the CPU time the backends of end used since start: a
// backend absent from start (it connected since) counts from zero.
func cpuDelta(start, end map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, cpu := range end {
		d += cpu - start[pid]
	}
	return d
}
