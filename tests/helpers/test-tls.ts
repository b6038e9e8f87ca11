/**
 * A self-signed certificate for `svc.test` (EC P-256, valid until 2126) and its key, made for tests only:
 * TLS servers on 127.0.0.1 that the outbound helper reaches under the name `svc.test`. Not a secret.
 * Made with: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
 *   -subj /CN=svc.test -addext subjectAltName=DNS:svc.test
 */
export const TEST_TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggJLWtNGXMl13k4Xk
yV880lo7ujdJS1HgukxnzcZwKqKhRANCAARnj2LW6hZ5QLYPGWCOcCOxkFcgyUBx
TZ1iKDe52Yj9DNOz5g0PbV3V4LwhNhW5/oFcnl+zvqGsXLGjUj7GJRXH
-----END PRIVATE KEY-----
`

export const TEST_TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBkTCCATigAwIBAgIUK5YTfDXyuDDKeEcqWqhUyQnEy4YwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIc3ZjLnRlc3QwIBcNMjYxMjA3MDI0MjM0WhgPMjEyNjExMTMw
MjQyMzRaMBMxETAPBgNVBAMMCHN2Yy50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEZ49i1uoWeUC2DxlgjnAjsZBXIMlAcU2dYig3udmI/QzTs+YND21d1eC8
ITYVuf6BXJ5fs76hrFyxo1I+xiUVx6NoMGYwHQYDVR0OBBYEFIaqaEUwrfThL78C
JFbVgxLeXvJ8MB8GA1UdIwQYMBaAFIaqaEUwrfThL78CJFbVgxLeXvJ8MA8GA1Ud
EwEB/wQFMAMBAf8wEwYDVR0RBAwwCoIIc3ZjLnRlc3QwCgYIKoZIzj0EAwIDRwAw
RAIgb6fGS6GIYr8PNnl3dZOfpTnXCmvkEDlpe5rPjpr3W7ICIGyPGsnU9n9ic4y/
fE41f+2Uq/L8hfWcBIqy6fbPnizy
-----END CERTIFICATE-----
`
