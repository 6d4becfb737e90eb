package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/adapters/mongo"
	"github.com/phoneauth/phoneauth/domain"
)

// maxUsers is how many numbers userPhone can make: 139 and eight digits.
const maxUsers = 100_000_000

// benchPassword is every preloaded user's password.
const benchPassword = "bench-password-1"

// userPhone is preloaded user i's number, in the seed's 11-digit form.
// Registrations use 158 numbers, so they never collide with these.
func userPhone(i int) string { return fmt.Sprintf("139%08d", i) }

func registrationPhone(i int) string { return fmt.Sprintf("158%08d", i) }

// bulkLoader is what preload needs of a store: many users written in few
// commits or round trips. The stores offer it beside their production
// types (bolt.BulkLoader, mongo.BulkLoader), not as part of them.
type bulkLoader interface {
	BulkCreateUsers(ctx context.Context, users []*domain.User) error
}

// preload stores s.users users through the store's bulk path (not HTTP),
// with passwords sealed under the key the service will use.
func preload(ctx context.Context, s settings, dataDir, passwordKey string) error {
	key, err := base64.StdEncoding.DecodeString(passwordKey)
	if err != nil {
		return err
	}
	vault, err := crypto.NewVault(key)
	if err != nil {
		return err
	}
	users, err := makeUsers(s.users, vault)
	if err != nil {
		return err
	}
	loader, closeStore, err := openLoader(ctx, s, dataDir)
	if err != nil {
		return err
	}
	err = loader.BulkCreateUsers(ctx, users)
	if cerr := closeStore(); err == nil {
		err = cerr
	}
	return err
}

// openLoader opens the run's store and returns its bulk loader and what
// closes the store. A failure to close MongoDB's pool is not the
// preload's.
func openLoader(ctx context.Context, s settings, dataDir string) (bulkLoader, func() error, error) {
	if s.mongoURI == "" {
		st, err := bolt.Open(filepath.Join(dataDir, "phoneauth.db"), zap.NewNop())
		if err != nil {
			return nil, nil, err
		}
		return bolt.NewBulkLoader(st), st.Close, nil
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := mongo.Open(octx, mongo.Config{URI: s.mongoURI, Database: s.mongoDatabase, Timeout: 5 * time.Minute}, zap.NewNop())
	if err != nil {
		return nil, nil, err
	}
	return mongo.NewBulkLoader(st), func() error { _ = st.Close(context.Background()); return nil }, nil
}

// makeUsers builds n users on every core.
func makeUsers(n int, vault *crypto.Vault) ([]*domain.User, error) {
	users := make([]*domain.User, n)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	created := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				phone, err := domain.ParsePhoneNumber(userPhone(i))
				if err != nil {
					errs[w] = fmt.Errorf("user %d: %w", i, err)
					return
				}
				email, err := domain.ParseEmail(fmt.Sprintf("u%d@bench.example", i))
				if err != nil {
					errs[w] = fmt.Errorf("user %d: %w", i, err)
					return
				}
				sealed, err := vault.Seal(phone, benchPassword)
				if err != nil {
					errs[w] = err
					return
				}
				users[i] = domain.NewUser(fmt.Sprintf("bench-%d", i), phone, email, sealed, created)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return users, nil
}

// dropMongo removes the run's database.
func dropMongo(uri, database string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return
	}
	defer func() { _ = c.Disconnect(ctx) }()
	_ = c.Database(database).Drop(ctx)
}
