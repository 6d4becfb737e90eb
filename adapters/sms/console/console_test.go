package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/sms/console"
	"github.com/phoneauth/phoneauth/domain"
)

func TestWarnsAtStartAndLogsTheCode(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := console.New(zap.New(core))

	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 || !strings.Contains(warns[0].Message, "no SMS leaves this machine") {
		t.Fatalf("construction logs %v, want one warning that no SMS leaves the machine", warns)
	}

	phone := domain.MustParsePhoneNumber("15850551102")
	if err := s.SendCode(context.Background(), phone, "454078", 5*time.Minute); err != nil {
		t.Fatalf("SendCode: %v", err)
	}
	infos := logs.FilterLevelExact(zapcore.InfoLevel).All()
	if len(infos) != 1 {
		t.Fatalf("got %d info lines, want 1", len(infos))
	}
	fields := infos[0].ContextMap()
	if fields["code"] != "454078" {
		t.Errorf("code field = %v, want the code", fields["code"])
	}
	if fields["phone"] != phone.Masked() {
		t.Errorf("phone field = %v, want masked %s", fields["phone"], phone.Masked())
	}
	if s.Name() != "console" {
		t.Errorf("Name() = %q", s.Name())
	}
}
