package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar shows a run's progress: on a terminal a bar redrawn in
// place with \r, elsewhere (a file, a pipe, a test's buffer) a plain line
// every tenth of the way.
type progressBar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	total    int
	last     contactsync.Progress
	drawn    time.Time
	nextLine int // plain mode: the next tenth to print
	visible  bool
}

const barWidth = 30

func newProgressBar(w io.Writer, tty bool, total int) *progressBar {
	return &progressBar{w: w, tty: tty, total: max(total, 1), nextLine: 1}
}

// update is the engine's progress callback (called from its workers).
func (p *progressBar) update(pr contactsync.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Workers report out of order: keep the furthest.
	if pr.Processed < p.last.Processed {
		return
	}
	p.last = pr
	if p.tty {
		if now := time.Now(); now.Sub(p.drawn) >= 50*time.Millisecond || pr.Processed >= p.total {
			p.drawn = now
			p.draw()
		}
		return
	}
	for p.nextLine <= 10 && pr.Processed*10 >= p.nextLine*p.total {
		p.line(pr)
		p.nextLine++
	}
}

func (p *progressBar) draw() {
	pr := p.last
	filled := min(pr.Processed*barWidth/p.total, barWidth)
	fmt.Fprintf(p.w, "\r  %s%s %*d/%d members  %s API calls  %d failed ",
		strings.Repeat("█", filled), strings.Repeat("░", barWidth-filled),
		len(fmt.Sprint(p.total)), pr.Processed, p.total, thousands(pr.APICalls), pr.Failed)
	p.visible = true
}

func (p *progressBar) line(pr contactsync.Progress) {
	fmt.Fprintf(p.w, "  %3d%%  %d/%d members, %s API calls, %d failed\n",
		min(pr.Processed*100/p.total, 100), pr.Processed, p.total, thousands(pr.APICalls), pr.Failed)
}

// finish draws the final state and ends the bar's line.
func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		p.visible = false
		return
	}
	if p.nextLine <= 10 && p.last.Processed > 0 {
		p.line(p.last) // stopped early: say where
	}
}

// logWriter returns w for log records: on a terminal it first clears the
// bar's line, so that a record does not land in the middle of the bar
// (the bar is redrawn below it on the next update).
func (p *progressBar) logWriter(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.tty && p.visible {
			fmt.Fprint(p.w, "\r\x1b[K")
			p.visible = false
			p.drawn = time.Time{}
		}
		return w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// thousands formats n with comma separators: 12345 → "12,345".
func thousands[T ~int | ~int64](n T) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
