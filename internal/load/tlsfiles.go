package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"iter8.tools/iter8/internal/source"
)

// CertPool reads a PEM file of CAs for a target's TLS configuration; what
// names the input in errors (such as "CA file").
func CertPool(ctx context.Context, what, path string) (*x509.CertPool, error) {
	pem, err := source.Reader{}.File(ctx, what, path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s holds no PEM certificate", what, path)
	}
	return pool, nil
}

// KeyPair reads a client certificate and its key (PEM files).
func KeyPair(ctx context.Context, certFile, keyFile string) (tls.Certificate, error) {
	r := source.Reader{}
	cert, err := r.File(ctx, "", certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := r.File(ctx, "", keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}
