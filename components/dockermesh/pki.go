package dockermesh

import (
	"encoding/pem"
	"fmt"
	"strings"
)

// SplitPEM separates what CAScript and CertScript print: a private key, then a
// certificate. Each comes back as its own PEM text.
func SplitPEM(bundle string) (key, cert string, err error) {
	rest := []byte(bundle)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		text := string(pem.EncodeToMemory(block))
		switch {
		case strings.HasSuffix(block.Type, "PRIVATE KEY") && key == "":
			key = text
		case block.Type == "CERTIFICATE" && cert == "":
			cert = text
		default:
			return "", "", fmt.Errorf("unexpected PEM block %s", block.Type)
		}
	}
	if key == "" || cert == "" {
		return "", "", fmt.Errorf("want a private key and a certificate, got %d and %d", len(key), len(cert))
	}
	return key, cert, nil
}
