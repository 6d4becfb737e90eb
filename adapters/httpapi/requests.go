package httpapi

import "github.com/phoneauth/phoneauth/application"

// The request types: one per endpoint, its body as the wire contract
// names it (docs/api.md), decoded by decode, and turned into its use
// case's command with the client's network, which the body never
// carries.

// step1Request is POST /client/register-step-1: send a code.
type step1Request struct {
	PhoneNumber string `field:"phone_number"`
}

func (r step1Request) toApp(clientNet string) application.SendCode {
	return application.SendCode{Phone: r.PhoneNumber, ClientNet: clientNet}
}

// step2Request is POST /client/register-step-2: verify the code.
type step2Request struct {
	PhoneNumber    string `field:"phone_number"`
	ValidateNumber string `field:"validate_number"`
}

func (r step2Request) toApp(clientNet string) application.VerifyCode {
	return application.VerifyCode{Phone: r.PhoneNumber, Code: r.ValidateNumber, ClientNet: clientNet}
}

// step3Request is POST /client/register-step-3: set the password.
type step3Request struct {
	PhoneNumber       string `field:"phone_number"`
	Password          string `field:"password"`
	PasswordConfirm   string `field:"password_confirm"`
	RegistrationToken string `field:"registration_token,optional"`
}

func (r step3Request) toApp(clientNet string) application.SetPassword {
	return application.SetPassword{Phone: r.PhoneNumber, Password: r.Password, PasswordConfirm: r.PasswordConfirm,
		RegistrationToken: r.RegistrationToken, ClientNet: clientNet}
}

// step4Request is POST /client/register-step-4: give the email and
// complete the registration.
type step4Request struct {
	PhoneNumber       string `field:"phone_number"`
	Email             string `field:"email"`
	RegistrationToken string `field:"registration_token,optional"`
}

func (r step4Request) toApp(clientNet string) application.CompleteProfile {
	return application.CompleteProfile{Phone: r.PhoneNumber, Email: r.Email, RegistrationToken: r.RegistrationToken, ClientNet: clientNet}
}

// loginRequest is POST /client/login. The time stamp may be a JSON
// string or integer: either way it is the text the client hashed.
type loginRequest struct {
	PhoneNumber   string `field:"phone_number"`
	EncryptionStr string `field:"encryption_str"`
	RandomStr     string `field:"random_str"`
	TimeStamp     string `field:"time_stamp,integer"`
}

func (r loginRequest) toApp(clientNet string) application.Login {
	return application.Login{Phone: r.PhoneNumber, EncryptionStr: r.EncryptionStr, RandomStr: r.RandomStr, TimeStamp: r.TimeStamp, ClientNet: clientNet}
}

// refreshRequest is POST /client/token/refresh: trade a refresh token
// for its successor pair.
type refreshRequest struct {
	RefreshToken string `field:"refresh_token"`
}

func (r refreshRequest) toApp() application.Refresh {
	return application.Refresh{RefreshToken: r.RefreshToken}
}

// logoutRequest is POST (or GET) /client/logout. Every field is
// optional, and an empty body is {}: the access token comes in the
// headers, and a refresh token in the body is for an app whose access
// token has expired.
type logoutRequest struct {
	RefreshToken string `field:"refresh_token,optional"`
	All          bool   `field:"all,optional"`
}

func (r logoutRequest) toApp(accessToken string) application.Logout {
	return application.Logout{AccessToken: accessToken, RefreshToken: r.RefreshToken, All: r.All}
}

// resetSendRequest is POST /client/reset-password-step-1: send a reset
// code to a registered number.
type resetSendRequest struct {
	PhoneNumber string `field:"phone_number"`
}

func (r resetSendRequest) toApp(clientNet string) application.ResetPasswordSend {
	return application.ResetPasswordSend{Phone: r.PhoneNumber, ClientNet: clientNet}
}

// resetRequest is POST /client/reset-password-step-2: the reset code and
// the new password.
type resetRequest struct {
	PhoneNumber     string `field:"phone_number"`
	ValidateNumber  string `field:"validate_number"`
	Password        string `field:"password"`
	PasswordConfirm string `field:"password_confirm"`
}

func (r resetRequest) toApp(clientNet string) application.ResetPassword {
	return application.ResetPassword{Phone: r.PhoneNumber, Code: r.ValidateNumber, Password: r.Password, PasswordConfirm: r.PasswordConfirm, ClientNet: clientNet}
}

// changePasswordRequest is POST /client/change-password: the login proof
// of the current password (as loginRequest's) and the new one.
type changePasswordRequest struct {
	EncryptionStr   string `field:"encryption_str"`
	RandomStr       string `field:"random_str"`
	TimeStamp       string `field:"time_stamp,integer"`
	Password        string `field:"password"`
	PasswordConfirm string `field:"password_confirm"`
}

func (r changePasswordRequest) toApp(p application.Principal, clientNet string) application.ChangePassword {
	return application.ChangePassword{Principal: p, Proof: application.Proof{EncryptionStr: r.EncryptionStr, RandomStr: r.RandomStr, TimeStamp: r.TimeStamp},
		Password: r.Password, PasswordConfirm: r.PasswordConfirm, ClientNet: clientNet}
}

// changePhoneSendRequest is POST /client/change-phone-step-1: the new
// number and the login proof of the password.
type changePhoneSendRequest struct {
	NewPhoneNumber string `field:"new_phone_number"`
	EncryptionStr  string `field:"encryption_str"`
	RandomStr      string `field:"random_str"`
	TimeStamp      string `field:"time_stamp,integer"`
}

func (r changePhoneSendRequest) toApp(p application.Principal, clientNet string) application.ChangePhoneSend {
	return application.ChangePhoneSend{Principal: p, NewPhone: r.NewPhoneNumber,
		Proof: application.Proof{EncryptionStr: r.EncryptionStr, RandomStr: r.RandomStr, TimeStamp: r.TimeStamp}, ClientNet: clientNet}
}

// changePhoneRequest is POST /client/change-phone-step-2: the new number
// and the code it received.
type changePhoneRequest struct {
	NewPhoneNumber string `field:"new_phone_number"`
	ValidateNumber string `field:"validate_number"`
}

func (r changePhoneRequest) toApp(p application.Principal, clientNet string) application.ChangePhone {
	return application.ChangePhone{Principal: p, NewPhone: r.NewPhoneNumber, Code: r.ValidateNumber, ClientNet: clientNet}
}

// deleteAccountRequest is POST /client/delete-account: the login proof
// of the password.
type deleteAccountRequest struct {
	EncryptionStr string `field:"encryption_str"`
	RandomStr     string `field:"random_str"`
	TimeStamp     string `field:"time_stamp,integer"`
}

func (r deleteAccountRequest) toApp(p application.Principal, clientNet string) application.DeleteAccount {
	return application.DeleteAccount{Principal: p, Proof: application.Proof{EncryptionStr: r.EncryptionStr, RandomStr: r.RandomStr, TimeStamp: r.TimeStamp}, ClientNet: clientNet}
}
