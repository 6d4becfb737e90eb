//go:build wireinject

package phoneauth

import (
	"github.com/google/wire"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/adapters/clock"
	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/adapters/memory"
	"github.com/phoneauth/phoneauth/adapters/metrics"
	"github.com/phoneauth/phoneauth/adapters/mongo"
	"github.com/phoneauth/phoneauth/adapters/sms"
	"github.com/phoneauth/phoneauth/adapters/sms/failover"
	"github.com/phoneauth/phoneauth/application"
)

// appSet builds the use cases and the HTTP server from whatever stores
// the injector provides. Each adapter with a set of its own is fed its
// slice of the configuration.
var appSet = wire.NewSet(
	wire.FieldsOf(new(Config), "Keys", "SMS"),
	clock.ProviderSet,
	provideClock,
	crypto.ProviderSet,
	provideKeyDir,
	sms.ProviderSet,
	provideSMSPreset,
	// Every vendor attempt is counted in the metrics.
	wire.Bind(new(failover.AttemptObserver), new(*metrics.Metrics)),
	metrics.ProviderSet,
	providePolicy,
	provideAlarms,
	application.NewSendCodeHandler,
	application.NewCodeGuard,
	application.NewVerifyCodeHandler,
	application.NewSetPasswordHandler,
	application.NewCompleteProfileHandler,
	application.NewLoginHandler,
	application.NewSessionIssuer,
	application.NewRefreshHandler,
	application.NewAuthenticateHandler,
	application.NewMeHandler,
	application.NewLogoutHandler,
	application.NewResetPasswordSendHandler,
	application.NewResetPasswordHandler,
	application.NewChangePasswordHandler,
	application.NewChangePhoneSendHandler,
	application.NewChangePhoneHandler,
	application.NewDeleteAccountHandler,
	wire.Struct(new(application.App), "*"),
	provideHTTPConfig,
	httpapi.ProviderSet,
	NewService,
)

// embeddedSet is the single-node store: bbolt for durable state, memory
// for the ephemeral counters.
var embeddedSet = wire.NewSet(
	provideBoltConfig,
	bolt.ProviderSet,
	provideBoltUsers,
	provideBoltPending,
	provideBoltPendingCodes,
	provideBoltSessions,
	provideMemoryConfig,
	memory.ProviderSet,
	provideRateLimits,
	provideLockouts,
	provideNonces,
	provideEmbeddedSweeper,
	provideBoltReadiness,
)

// InitializeEmbedded wires the service on the embedded store under DATA_DIR.
func InitializeEmbedded(cfg Config, log *zap.Logger, o Overrides) (*Service, func(), error) {
	panic(wire.Build(appSet, embeddedSet))
}

// mongoSet keeps all shared state in MongoDB, so instances are stateless.
var mongoSet = wire.NewSet(
	provideMongoConfig,
	mongo.ProviderSet,
	provideMongoUsers,
	provideMongoPending,
	provideMongoPendingCodes,
	provideMongoSessions,
	provideMongoRateLimits,
	provideMongoLockouts,
	provideMongoNonces,
	provideMongoSweeper,
	provideMongoReadiness,
)

// InitializeMongo wires the service on the MongoDB at MONGO_URI.
func InitializeMongo(cfg Config, log *zap.Logger, o Overrides) (*Service, func(), error) {
	panic(wire.Build(appSet, mongoSet))
}
