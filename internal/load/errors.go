package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// ErrorKind names a transport failure, the key under which it is counted.
type ErrorKind string

// Error kinds.
const (
	ConnRefused ErrorKind = "connection-refused"
	ConnReset   ErrorKind = "connection-reset"
	ConnClosed  ErrorKind = "connection-closed"
	Timeout     ErrorKind = "timeout"
	DNS         ErrorKind = "dns"
	TLS         ErrorKind = "tls"
	Canceled    ErrorKind = "canceled"
	Protocol    ErrorKind = "protocol"
	// ProtocolStatus: a status line that is not "HTTP/d.d ddd".
	ProtocolStatus ErrorKind = "protocol-status"
	// ProtocolLength: an invalid Content-Length, or several that disagree.
	ProtocolLength ErrorKind = "protocol-length"
	// ProtocolUnsolicited: bytes that answer no request, such as a second
	// response to one request.
	ProtocolUnsolicited ErrorKind = "protocol-unsolicited"
	// StreamReset: the server reset an HTTP/2 request's stream (RST_STREAM)
	// instead of answering it; the connection carries on.
	StreamReset ErrorKind = "stream-reset"
	// InFlightAtAbort: the request was in flight when a monitor stopped the run
	// (an abort condition). It is not an error of the target: its latency
	// is recorded at the time it had taken, as a lower bound.
	InFlightAtAbort ErrorKind = "in-flight-at-abort"
	Other           ErrorKind = "other"
)

// Classify maps a transport error to its kind.
func Classify(err error) ErrorKind {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ConnReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return ConnClosed
	case errors.As(err, &dnsErr):
		return DNS
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recErr), errors.As(err, &alert):
		return TLS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	return Other
}

// EndpointError is a target's failure to prepare one of its endpoints,
// named by index.
type EndpointError struct {
	Index int
	Err   error
}

// Error names the endpoint and the problem.
func (e *EndpointError) Error() string { return fmt.Sprintf("endpoint %d: %v", e.Index, e.Err) }

// Unwrap returns the problem.
func (e *EndpointError) Unwrap() error { return e.Err }

// DeadlineExceeded is the kind of a gRPC call that ended with the status
// DEADLINE_EXCEEDED: like Timeout, it got no answer within its timeout.
const DeadlineExceeded ErrorKind = "DeadlineExceeded"
