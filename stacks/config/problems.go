package config

// Problems: what is wrong with a configuration, collected so that all of it is reported at
// once, and how a key and a value are written in a message. The bottom of the package:
// every other file may call it, and it calls none of them.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a stack's configuration.
type Problem struct {
	// Key is the config key at fault, as `pulumi config set --path` names it.
	Key string
	// Message says what is wrong and what is allowed.
	Message string
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// ConfigError reports every problem of a configuration at once. It is returned before a
// single resource is registered, so nothing has been changed.
type ConfigError struct {
	Stack, Origin string
	Problems      []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	noun := "problems"
	if len(e.Problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "stack %s: %d configuration %s in %s; nothing was changed:", e.Stack, len(e.Problems), noun, e.Origin)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// problems collects Problems.
type problems []Problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// entryKey is the config key of a map's entry, as `pulumi config set --path` writes it:
// key.name, or key["name"] when the name holds characters a path cannot (a '.', say).
func entryKey(key, name string) string {
	if dnsLabel.MatchString(name) || envName.MatchString(name) {
		return key + "." + name
	}
	return key + "[" + strconv.Quote(name) + "]"
}

// quote quotes a user's text for a message, shortened so a stray file cannot flood it.
func quote(s string) string {
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "..."
	}
	return fmt.Sprintf("%q", s)
}

// about reports whether a problem was reported on one of keys or a field below it.
func (ps problems) about(keys ...string) bool {
	for _, p := range ps {
		for _, k := range keys {
			if p.Key == k || strings.HasPrefix(p.Key, k+".") {
				return true
			}
		}
	}
	return false
}

// The names a key path can carry as they are: a DNS label, or an environment variable's name.
var (
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
)
