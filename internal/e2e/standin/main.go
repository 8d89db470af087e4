// Command standin is one static binary that behaves as the images the engine test cannot
// pull: it is installed at each image's entrypoint path and acts as the program that
// path runs upstream, chosen by the name it was started under (filepath.Base of argv[0];
// for python, by its -m module).
//
// Every behaviour reproduced here was read from the upstream image's Dockerfile,
// entrypoint or source, and is cited beside the code that reproduces it (repository, tag,
// path, lines, as /tmp/research/images.md gives them or as read from the upstream
// repositories' mirrors). What a stand-in cannot show is said where it would happen, and
// summed up in the test's standInImage.Cannot. Lamina's own images have no upstream
// source here: their stand-ins do what the program expects of them, and no more.
//
// All of them log to stdout and stderr, stop with exit 0 on SIGTERM or SIGINT, and bind
// every interface (0.0.0.0) unless told otherwise.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(dispatch(filepath.Base(os.Args[0]), os.Args[1:]))
}

// dispatch runs the program name stands for with its arguments and returns its exit code.
func dispatch(name string, args []string) int {
	switch name {
	case "docker_entrypoint.sh":
		return chromaEntrypoint(args)
	case "uvicorn":
		return uvicorn(args)
	case "run.sh":
		return grafanaRunSh(args)
	case "grafana", "grafana-server":
		return grafanaCommand(name, args)
	case "loki":
		return loki(args)
	case "vector":
		return vector(args)
	case "entrypoint", "lamina-llm-serve":
		return llmServe(args)
	case "llama-server":
		return llamaServer(args)
	case "python", "python3":
		return python(args)
	case "probe":
		return probe(args)
	}
	fmt.Fprintf(os.Stderr, "standin: started as %q, which is no image this binary stands in for\n", name)
	return 127
}

// python runs `python -m <module> args...` for the Lamina images' modules; anything else
// fails as Python does for a module it cannot find.
func python(args []string) int {
	if len(args) < 2 || args[0] != "-m" {
		fmt.Fprintln(os.Stderr, "standin: only `python -m <module>` is stood in for")
		return 2
	}
	switch args[1] {
	case coreModule:
		return core(args[2:])
	case dashboardModule:
		return dashboard(args[2:])
	}
	fmt.Fprintf(os.Stderr, "/usr/local/bin/python: No module named %s\n", args[1])
	return 1
}

// stopped is closed when SIGTERM or SIGINT arrives.
func stopped() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	return c
}

// serve listens on addr with h until SIGTERM or SIGINT (exit 0) or a listener failure
// (exit 1, after saying so with fail). ready runs once the listener is bound.
func serve(addr string, h http.Handler, fail func(error), ready func()) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err)
		return 1
	}
	if ready != nil {
		ready()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sig := stopped()
	select {
	case s := <-sig:
		logf("received %v, shutting down", s)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		return 0
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return 0
		}
		fail(err)
		return 1
	}
}

// logf is the stand-ins' own log line, on stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// recorder remembers a response's status, for the request logs.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logged calls h and then line with the request and its status.
func logged(h http.Handler, line func(r *http.Request, status int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		line(r, rec.status)
	})
}

// flagValue finds --name value or --name=value (one or two leading dashes) in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		trimmed := strings.TrimLeft(a, "-")
		if trimmed == a {
			continue
		}
		if trimmed == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(trimmed, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// pyErrno is how Python names an OSError: its class, and the message libc gives the errno
// (Go's are the same words, lower-cased).
func pyErrno(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "OSError: " + err.Error()
	}
	msg := errno.Error()
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	class := "OSError"
	switch errno {
	case syscall.EACCES, syscall.EPERM:
		class = "PermissionError"
	case syscall.ENOENT:
		class = "FileNotFoundError"
	case syscall.EISDIR:
		class = "IsADirectoryError"
	case syscall.ENOTDIR:
		class = "NotADirectoryError"
	case syscall.EEXIST:
		class = "FileExistsError"
	}
	path := ""
	var pe *os.PathError
	if errors.As(err, &pe) {
		path = fmt.Sprintf(": '%s'", pe.Path)
	}
	return fmt.Sprintf("%s: [Errno %d] %s%s", class, int(errno), msg, path)
}

// sqliteHeader is the first 16 bytes of every SQLite database file. The stand-ins that
// stand for an image keeping a SQLite database (ChromaDB, Grafana) create that file where
// the image does, starting with this header, and keep their own state in it as JSON after
// the header. A file there that does not start with the header stops them as SQLite
// would ("file is not a database").
const sqliteHeader = "SQLite format 3\x00"

// openDatabase opens the database file at path as SQLite would, creating it with mode
// (less the umask), and returns the stand-in's state kept in it (empty for a new file).
func openDatabase(path string, mode os.FileMode) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, mode)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		_, err = f.WriteAt([]byte(sqliteHeader), 0)
		return nil, err
	}
	if !strings.HasPrefix(string(data), sqliteHeader) {
		return nil, errors.New("file is not a database")
	}
	return data[len(sqliteHeader):], nil
}

// saveDatabase writes the stand-in's state into the database file at path, in place.
func saveDatabase(path string, state []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(append([]byte(sqliteHeader), state...)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
