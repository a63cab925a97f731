# ruff: noqa: RUF001 - Japanese text uses full-width punctuation on purpose
"""The デジタル認証アプリ's texts (issue 18 §3): ours, in the style of the rest of the app.

The items a relying party asks for are named as the web step names them
(:data:`mobile_jpki.web.authapp_step.SCOPE_LABELS`): 氏名・住所・生年月日・性別 (the basic four
facts of the signing certificate) and 電子署名.
"""

from __future__ import annotations

from mobile_jpki.phone.app.texts_model import Text, TextSource

_O = TextSource.OURS

AUTHAPP_TEXTS: tuple[Text, ...] = (
    Text("authapp_tile", "デジタル認証アプリ", "Digital authentication app", _O),
    Text("authapp_title", "デジタル認証アプリ", "Digital authentication app", _O),
    Text(
        "authapp_open_body",
        "ブラウザに表示された認証要求のURL（「アプリで開く」のリンク）を貼り付けてください。",
        "Paste the authorization request's URL shown in the browser (its 'open in the app' link).",
        _O,
    ),
    Text("authapp_url_label", "認証要求のURL", "Authorization request URL", _O),
    Text("authapp_open", "認証要求を開く", "Open the request", _O),
    Text(
        "authapp_consent_body",
        "{client}が次の情報を求めています。",
        "{client} asks for the following.",
        _O,
    ),
    Text(
        "authapp_scope_openid",
        "本人であることの確認（利用者証明用電子証明書）",
        "Proof that it is you (user-authentication certificate)",
        _O,
    ),
    Text("authapp_scope_name", "氏名", "Name", _O),
    Text("authapp_scope_address", "住所", "Address", _O),
    Text("authapp_scope_birthdate", "生年月日", "Date of birth", _O),
    Text("authapp_scope_gender", "性別", "Gender", _O),
    Text(
        "authapp_scope_sign",
        "電子署名（署名用電子証明書）",
        "Electronic signature (signing certificate)",
        _O,
    ),
    Text("authapp_scope_other", "その他の情報（{scope}）", "Other information ({scope})", _O),
    Text(
        "authapp_digest",
        "署名する内容のハッシュ値（SHA-256）: {digest}",
        "Hash of what is signed (SHA-256): {digest}",
        _O,
    ),
    Text(
        "authapp_consent_note",
        "同意すると、暗証番号を入力して本人であることを確認します。",
        "If you agree, you confirm that it is you with your PIN.",
        _O,
    ),
    Text("authapp_agree", "同意する", "Agree", _O),
    Text("authapp_deny", "同意しない", "Do not agree", _O),
    Text("authapp_pin_title", "利用者証明用暗証番号の入力", "User-authentication PIN", _O),
    Text(
        "authapp_pin_body_phone",
        "このスマホのスマホ用電子証明書（利用者証明用）の暗証番号を入力してください。",
        "Enter the PIN of this phone's user-authentication certificate.",
        _O,
    ),
    Text(
        "authapp_pin_body_card",
        "マイナンバーカードの利用者証明用電子証明書の暗証番号を入力してください。",
        "Enter the PIN of the My Number Card's user-authentication certificate.",
        _O,
    ),
    Text(
        "authapp_card_pin_label",
        "マイナンバーカードの利用者証明用電子証明書の暗証番号",
        "My Number Card user-authentication PIN",
        _O,
    ),
    Text("authapp_use_card", "マイナンバーカードで読み取る", "Use the My Number Card instead", _O),
    Text("authapp_use_phone", "スマホ用電子証明書を使う", "Use this phone's certificates", _O),
    Text("authapp_password_title", "署名用パスワードの入力", "Signing password", _O),
    Text(
        "authapp_password_body",
        "氏名・住所などの提供や電子署名には、署名用電子証明書のパスワードが必要です。",
        "Providing your name, address and so on, or a signature, needs the signing "
        "certificate's password.",
        _O,
    ),
    Text("authapp_done_title", "完了", "Done", _O),
    Text(
        "authapp_done_body",
        "認証が完了しました。ブラウザに戻ってください。",
        "You are authenticated. Go back to the browser.",
        _O,
    ),
    Text(
        "authapp_denied_body",
        "同意しなかったため、情報は提供されませんでした。ブラウザに戻ってください。",
        "You did not agree: nothing was provided. Go back to the browser.",
        _O,
    ),
    Text("authapp_close", "閉じる", "Close", _O),
    Text("authapp_refused_title", "認証できませんでした", "Not authenticated", _O),
    Text(
        "authapp_refused_access_denied",
        "サービスが電子証明書を確認できず、認証を受け付けませんでした。ブラウザに戻ってください。",
        "The service could not accept the certificate and refused. Go back to the browser.",
        _O,
    ),
    Text(
        "authapp_refused_expired",
        "認証要求の有効期限が切れています。ブラウザではじめからやり直してください。",
        "The request has expired. Please start again in the browser.",
        _O,
    ),
    Text(
        "authapp_refused_finished",
        "この認証要求は既に終了しています。ブラウザに戻ってください。",
        "This request is already finished. Go back to the browser.",
        _O,
    ),
    Text(
        "authapp_refused_not_found",
        "認証要求が見つかりません。URLを確認してください。",
        "The request was not found. Please check the URL.",
        _O,
    ),
    Text(
        "authapp_refused_invalid",
        "認証要求を受け付けられませんでした。ブラウザではじめからやり直してください。",
        "The request could not be accepted. Please start again in the browser.",
        _O,
    ),
    Text(
        "err_authapp_other_service",
        "このサービスの認証要求ではありません。URLを確認してください。",
        "This is not a request of this service. Please check the URL.",
        _O,
    ),
)
