package oauth_test

import (
	"testing"

	"github.com/gymflow/contacts-go/oauth"
	"github.com/gymflow/contacts-go/oauth/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) oauth.TokenStore { return oauth.NewMemoryStore() })
}
