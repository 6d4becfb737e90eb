package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/phoneauth/phoneauth/application"
)

func (s *Server) step1(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step1)
	f, err := decodeFields(rawBody(c), []string{"phone_number"}, []fieldKind{stringField})
	if err != nil {
		return err
	}
	if err := s.app.SendCode.Handle(c.UserContext(), application.SendCode{Phone: f[0], ClientNet: s.clientNet(c)}); err != nil {
		return err
	}
	return ok(c, msgSent)
}

func (s *Server) step2(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step2)
	f, err := decodeFields(rawBody(c), []string{"phone_number", "validate_number"}, []fieldKind{stringField, stringField})
	if err != nil {
		return err
	}
	res, err := s.app.VerifyCode.Handle(c.UserContext(), application.VerifyCode{Phone: f[0], Code: f[1], ClientNet: s.clientNet(c)})
	if err != nil {
		return err
	}
	return c.JSON(response{Code: 1, Message: msgVerified, RegistrationToken: res.RegistrationToken})
}

func (s *Server) step3(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step3)
	f, err := decodeFields(rawBody(c),
		[]string{"phone_number", "password", "password_confirm", "registration_token"},
		[]fieldKind{stringField, stringField, stringField, optionalStringField})
	if err != nil {
		return err
	}
	in := application.SetPassword{Phone: f[0], Password: f[1], PasswordConfirm: f[2], RegistrationToken: f[3], ClientNet: s.clientNet(c)}
	if err := s.app.SetPassword.Handle(c.UserContext(), in); err != nil {
		return err
	}
	return ok(c, msgPasswordSet)
}

func (s *Server) step4(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step4)
	f, err := decodeFields(rawBody(c),
		[]string{"phone_number", "email", "registration_token"},
		[]fieldKind{stringField, stringField, optionalStringField})
	if err != nil {
		return err
	}
	in := application.CompleteProfile{Phone: f[0], Email: f[1], RegistrationToken: f[2], ClientNet: s.clientNet(c)}
	if err := s.app.CompleteProfile.Handle(c.UserContext(), in); err != nil {
		return err
	}
	return ok(c, msgRegistered)
}

func (s *Server) login(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, login)
	f, err := decodeFields(rawBody(c),
		[]string{"phone_number", "encryption_str", "random_str", "time_stamp"},
		[]fieldKind{stringField, stringField, stringField, integerField})
	if err != nil {
		return err
	}
	res, err := s.app.Login.Handle(c.UserContext(), application.Login{Phone: f[0], EncryptionStr: f[1], RandomStr: f[2], TimeStamp: f[3], ClientNet: s.clientNet(c)})
	if err != nil {
		return err
	}
	return c.JSON(response{Code: 1, Message: msgLoggedIn, Email: res.Email, Token: res.Token, ExpiresIn: int64(res.ExpiresIn / time.Second)})
}

func ok(c *fiber.Ctx, msg string) error {
	return c.JSON(response{Code: 1, Message: msg})
}
