package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"iter8.tools/iter8/internal/source"
)

// ClientFiles are the files of a target's TLS configuration, read through
// the one source reader: CAs to trust, and a client certificate and its key.
type ClientFiles struct {
	CAFile, CertFile, KeyFile string
}

// Apply reads the files into conf: RootCAs from CAFile (named caName in
// errors, as the user knows it), Certificates from CertFile and KeyFile.
func (f ClientFiles) Apply(ctx context.Context, conf *tls.Config, caName string) error {
	r := source.Reader{}
	if f.CAFile != "" {
		pem, err := r.File(ctx, caName, f.CAFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s %s holds no PEM certificate", caName, f.CAFile)
		}
		conf.RootCAs = pool
	}
	if f.CertFile == "" {
		return nil
	}
	cert, err := r.File(ctx, "", f.CertFile)
	if err != nil {
		return fmt.Errorf("loading client certificate: %w", err)
	}
	key, err := r.File(ctx, "", f.KeyFile)
	if err != nil {
		return fmt.Errorf("loading client certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return fmt.Errorf("loading client certificate: %w", err)
	}
	conf.Certificates = []tls.Certificate{pair}
	return nil
}
