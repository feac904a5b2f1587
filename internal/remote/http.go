package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// errorBodyLimit bounds how much of an HTTP error body is read.
const errorBodyLimit = 64 << 10

// roundTrip sends req and returns once the response headers arrived. With
// headerTimeout > 0 the headers must arrive within it. The response body
// releases the request's resources when closed.
func (l *Link) roundTrip(ctx context.Context, req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	if headerTimeout > 0 {
		t := time.AfterFunc(headerTimeout, func() { timedOut.Store(true); cancel() })
		defer t.Stop()
	}
	resp, err := l.client.Do(req.WithContext(ctx))
	if timedOut.Load() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, fmt.Errorf("no answer within %s: %w", headerTimeout, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// readLimited reads at most limit bytes of r; more is errTooLarge.
func readLimited(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = errors.New("body larger than the message size limit")

// discard drains a little of a body, so its connection can be reused, and
// closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, errorBodyLimit))
	resp.Body.Close()
}

// mediaType returns the response's media type without parameters.
func mediaType(resp *http.Response) string {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// httpError makes the error for a response that failed: its kind, status,
// WWW-Authenticate hint and a short excerpt of the body.
func (l *Link) httpError(kind error, op string, resp *http.Response, body []byte, detail string) *Error {
	e := &Error{Kind: kind, URL: l.o.redacted, Op: op, Status: resp.StatusCode, Detail: detail}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		e.WWWAuthenticate = resp.Header.Get("WWW-Authenticate")
	}
	if x := excerpt(body); x != "" {
		if e.Detail != "" {
			e.Detail += "; "
		}
		e.Detail += "the remote said: " + x
	}
	return e
}

// netError makes the error for an exchange that got no HTTP answer. An
// error that came from the credentials is passed through.
func (l *Link) netError(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if l.closed() {
		return &Error{Kind: ErrClosed, URL: l.o.redacted, Op: op}
	}
	return &Error{Kind: ErrUnreachable, URL: l.o.redacted, Op: op, Err: netCause(err)}
}

// innerCause is the cause inside one of our errors, for a new error that
// says more (e.g. "after 5 attempts"), so the URL and kind are not repeated.
func innerCause(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err
	}
	return netCause(err)
}

// netCause strips what must not reach an error message or an errors.Is
// test: *url.Error repeats the URL with its query (credentials may be
// there), and an io.EOF in the chain would make a reader of the link's
// errors (the engine) take the link's failure for a clean end of output.
func netCause(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the remote closed the connection")
	}
	return err
}
