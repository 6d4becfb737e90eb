package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/phoneauth/phoneauth/application"
)

// The API's handlers. Each decodes its request, calls one use case and
// writes its success; a failure is returned as it is, for the error
// handler (errors.go) to answer.

func (s *Server) step1(c *fiber.Ctx) error {
	var req step1Request
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	if err := s.app.SendCode.Handle(c.UserContext(), req.toApp(s.clientNet(c))); err != nil {
		return err
	}
	return ok(c, msgSent)
}

func (s *Server) step2(c *fiber.Ctx) error {
	var req step2Request
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	res, err := s.app.VerifyCode.Handle(c.UserContext(), req.toApp(s.clientNet(c)))
	if err != nil {
		return err
	}
	return c.JSON(response{Code: 1, Message: msgVerified, RegistrationToken: res.RegistrationToken})
}

func (s *Server) step3(c *fiber.Ctx) error {
	var req step3Request
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	if err := s.app.SetPassword.Handle(c.UserContext(), req.toApp(s.clientNet(c))); err != nil {
		return err
	}
	return ok(c, msgPasswordSet)
}

func (s *Server) step4(c *fiber.Ctx) error {
	var req step4Request
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	if err := s.app.CompleteProfile.Handle(c.UserContext(), req.toApp(s.clientNet(c))); err != nil {
		return err
	}
	return ok(c, msgRegistered)
}

func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	res, err := s.app.Login.Handle(c.UserContext(), req.toApp(s.clientNet(c)))
	if err != nil {
		return err
	}
	return c.JSON(withPair(response{Code: 1, Message: msgLoggedIn, Email: res.Email}, res.SessionTokens))
}

func (s *Server) refresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	pair, err := s.app.Refresh.Handle(c.UserContext(), req.toApp())
	if err != nil {
		return err
	}
	return c.JSON(withPair(response{Code: 1, Message: msgRefreshed}, pair))
}

// me is GET /client, an authenticated route: the token was checked, and
// the account read, by requireToken.
func (s *Server) me(c *fiber.Ctx) error {
	res, err := s.app.Me.Handle(c.UserContext(), application.Me{Principal: principalOf(c)})
	if err != nil {
		return err
	}
	return c.JSON(response{Code: 1, Message: msgAccount, PhoneNumber: res.Phone, Email: res.Email,
		CreatedAt: res.CreatedAt.UTC().Truncate(time.Second).Format(time.RFC3339)})
}

// logout is POST and GET /client/logout. An empty body is {}: the
// origin's clients send none.
func (s *Server) logout(c *fiber.Ctx) error {
	body := rawBody(c)
	if len(body) == 0 {
		body = emptyObject
	}
	var req logoutRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	if err := s.app.Logout.Handle(c.UserContext(), req.toApp(tokenOf(c))); err != nil {
		return err
	}
	return ok(c, msgLoggedOut)
}

var emptyObject = []byte("{}")

func (s *Server) resetSend(c *fiber.Ctx) error {
	var req resetSendRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	if err := s.app.ResetPasswordSend.Handle(c.UserContext(), req.toApp(s.clientNet(c))); err != nil {
		return err
	}
	return ok(c, msgSent)
}

func (s *Server) reset(c *fiber.Ctx) error {
	var req resetRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	if err := s.app.ResetPassword.Handle(c.UserContext(), req.toApp(s.clientNet(c))); err != nil {
		return err
	}
	return ok(c, msgPasswordReset)
}

// changePassword and the routes below are authenticated: the token was
// checked, and the account read, by requireToken.
func (s *Server) changePassword(c *fiber.Ctx) error {
	var req changePasswordRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	pair, err := s.app.ChangePassword.Handle(c.UserContext(), req.toApp(principalOf(c), s.clientNet(c)))
	if err != nil {
		return err
	}
	return c.JSON(withPair(response{Code: 1, Message: msgPasswordChanged}, pair))
}

func (s *Server) changePhoneSend(c *fiber.Ctx) error {
	var req changePhoneSendRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	if err := s.app.ChangePhoneSend.Handle(c.UserContext(), req.toApp(principalOf(c), s.clientNet(c))); err != nil {
		return err
	}
	return ok(c, msgSent)
}

func (s *Server) changePhone(c *fiber.Ctx) error {
	var req changePhoneRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	pair, err := s.app.ChangePhone.Handle(c.UserContext(), req.toApp(principalOf(c), s.clientNet(c)))
	if err != nil {
		return err
	}
	return c.JSON(withPair(response{Code: 1, Message: msgPhoneChanged}, pair))
}

func (s *Server) deleteAccount(c *fiber.Ctx) error {
	var req deleteAccountRequest
	if err := decode(rawBody(c), &req); err != nil {
		return err
	}
	if err := s.app.DeleteAccount.Handle(c.UserContext(), req.toApp(principalOf(c), s.clientNet(c))); err != nil {
		return err
	}
	return ok(c, msgAccountDeleted)
}

// withPair adds a session's pair to a success answer, lifetimes in
// whole seconds.
func withPair(r response, p application.SessionTokens) response {
	r.Token, r.ExpiresIn = p.Token, int64(p.ExpiresIn/time.Second)
	r.RefreshToken, r.RefreshExpiresIn = p.RefreshToken, int64(p.RefreshExpiresIn/time.Second)
	return r
}

func ok(c *fiber.Ctx, msg string) error {
	return c.JSON(response{Code: 1, Message: msg})
}
