package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
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
	return c.JSON(response{Code: 1, Message: msgLoggedIn, Email: res.Email, Token: res.Token, ExpiresIn: int64(res.ExpiresIn / time.Second)})
}

func ok(c *fiber.Ctx, msg string) error {
	return c.JSON(response{Code: 1, Message: msg})
}
