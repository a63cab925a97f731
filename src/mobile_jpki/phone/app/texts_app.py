# ruff: noqa: RUF001 - Japanese text uses full-width punctuation on purpose
"""The texts of ours (``OURS``): wording the document does not give, in the document's style.

Other flows, error messages (stable codes in :class:`.screens.MessageCode`), the old phone's
notice. The English is a plain translation. See :mod:`.texts` for the rules of the three sources.
"""

from __future__ import annotations

from mobile_jpki.phone.app.texts_model import Text, TextSource

_O = TextSource.OURS

APP_TEXTS: tuple[Text, ...] = (
    # --- ours: other flows ------------------------------------------------------------------
    Text("home_title", "マイナポータル", "Mynaportal", _O),
    Text("apply_title", "スマホ用電子証明書の申請", "Apply for smartphone certificates", _O),
    Text(
        "menu_this_phone_heading",
        "このスマホのスマホ用電子証明書",
        "Smartphone certificates on this phone",
        _O,
    ),
    Text("menu_push_off", "プッシュ通知 オフ", "Push notifications Off", _O),
    Text(
        "menu_password_reset",
        "パスワード・暗証番号の初期化",
        "Reset a password or PIN",
        _O,
    ),
    Text(
        "revoke_own_row",
        "このスマホのスマホ用電子証明書を失効",
        "Revoke this phone's smartphone certificates",
        _O,
    ),
    Text("menu_release", "一時利用停止の解除", "Release the suspension", _O),
    Text("status_none", "未申請", "Not applied for", _O),
    Text("status_applied", "申請中", "Applied for", _O),
    Text("status_registered", "登録済み", "Registered", _O),
    Text("status_suspended", "一時利用停止中", "Suspended", _O),
    Text("status_revoked", "失効済み", "Revoked", _O),
    Text("auth_pin_hint", "4ケタの数字", "4 digits", _O),
    Text("password_again", "パスワード（確認用）", "Password (again)", _O),
    Text("pin", "暗証番号", "PIN", _O),
    Text("pin_again", "暗証番号（確認用）", "PIN (again)", _O),
    Text("new_pin_title", "新しい暗証番号の設定", "Set a new PIN", _O),
    Text(
        "card_sign_password_label",
        "マイナンバーカードの署名用電子証明書のパスワード",
        "My Number Card signing-certificate password",
        _O,
    ),
    Text(
        "new_password_for_sign",
        "署名用電子証明書のパスワードを設定してください。",
        "Set the password of the signing certificate.",
        _O,
    ),
    Text(
        "new_password_for_auth",
        "利用者証明用電子証明書の暗証番号（4ケタの数字）を設定してください。",
        "Set the PIN (4 digits) of the user-authentication certificate.",
        _O,
    ),
    Text(
        "apply_done_wait",
        "登録準備が完了すると、プッシュ通知でお知らせします。",
        "You will get a push notification when registration is ready.",
        _O,
    ),
    Text(
        "apply_done_wait_no_push",
        "プッシュ通知がオフのため、登録準備の完了はお知らせしません。"
        "しばらくしてから、マイページで登録準備の状況を確認してください。",
        "Push notifications are off, so you will not be told when registration is ready. "
        "Check my page after a while.",
        _O,
    ),
    Text(
        "push_ready_body",
        "スマホ用電子証明書の登録準備が完了しました。マイページから登録してください。",
        "Your smartphone certificates are ready. Register them from my page.",
        _O,
    ),
    Text("cancel", "キャンセル", "Cancel", _O),
    Text("back", "戻る", "Back", _O),
    Text("biometrics_title", "生体認証の利用登録", "Biometrics", _O),
    Text(
        "biometrics_body",
        "利用者証明用電子証明書の暗証番号の代わりに、生体認証を利用できるようにします。"
        "署名用電子証明書には、引き続きパスワードが必要です。",
        "Biometrics can stand in for the user-authentication PIN. The signing certificate "
        "always needs its password.",
        _O,
    ),
    Text("phone_auth_pin_label", "利用者証明用電子証明書の暗証番号", "User-authentication PIN", _O),
    Text(
        "phone_sign_password_label",
        "署名用電子証明書のパスワード",
        "Signing-certificate password",
        _O,
    ),
    Text("biometrics_done", "生体認証を登録しました。", "Biometrics are set up.", _O),
    Text("self_check_title", "動作確認", "Check it works", _O),
    Text(
        "self_check_body",
        "テスト用のデータに署名・認証し、証明書が有効かを確認します。",
        "A test challenge is signed and authenticated and the certificates' validity is checked.",
        _O,
    ),
    Text(
        "self_check_ok",
        "有効です（署名・認証を確認しました）",
        "Valid (signing and authentication work)",
        _O,
    ),
    Text("self_check_revoked", "有効ではありません（失効しています）", "Not valid (revoked)", _O),
    Text(
        "self_check_suspended",
        "有効ではありません（一時利用停止中です）",
        "Not valid (suspended)",
        _O,
    ),
    Text(
        "self_check_unknown",
        "有効性を確認できませんでした",
        "Its validity could not be checked",
        _O,
    ),
    Text("revoke_own_title", "スマホ用電子証明書の失効", "Revoke smartphone certificates", _O),
    Text(
        "revoke_own_body",
        "失効するスマホ用電子証明書を選び、署名用電子証明書のパスワードを入力してください。",
        "Choose the smartphone certificates to revoke and enter the signing password.",
        _O,
    ),
    Text(
        "revoke_own_body_pin",
        "失効するスマホ用電子証明書を選び、利用者証明用電子証明書の暗証番号を入力してください。",
        "Choose the smartphone certificates to revoke and enter the user-authentication PIN.",
        _O,
    ),
    Text("revoke_do", "失効する", "Revoke", _O),
    Text(
        "revoke_own_done", "スマホ用電子証明書を失効しました。", "The certificates are revoked.", _O
    ),
    Text(
        "revoke_other_title",
        "別のスマホのスマホ用電子証明書の失効",
        "Revoke the certificates on another phone",
        _O,
    ),
    Text(
        "revoke_other_body",
        "別のスマホに登録されているスマホ用電子証明書を失効します。マイナンバーカードを使用します。",
        "The smartphone certificates registered on another phone will be revoked. This uses "
        "your My Number Card.",
        _O,
    ),
    Text(
        "revoke_other_done",
        "別のスマホのスマホ用電子証明書を失効しました。",
        "The certificates on the other phone are revoked.",
        _O,
    ),
    Text("reset_title", "パスワード・暗証番号の初期化", "Reset a password or PIN", _O),
    Text(
        "reset_choose",
        "パスワード（署名用電子証明書）または暗証番号（利用者証明用電子証明書）を"
        "初期化するスマホ用電子証明書を選んでください。",
        "Choose the smartphone certificate to reset: the password (signing certificate) or "
        "the PIN (user-authentication certificate).",
        _O,
    ),
    Text("reset_done", "パスワードを初期化しました。", "The password is reset.", _O),
    Text("reset_done_pin", "暗証番号を初期化しました。", "The PIN is reset.", _O),
    Text("release_title", "一時利用停止の解除", "Release the suspension", _O),
    Text(
        "release_body",
        "一時利用停止を解除します。署名用電子証明書は失効され、新しい証明書が発行されます。"
        "発行後、もう一度登録してください。",
        "The suspension is released. The signing certificate is revoked and a new one issued; "
        "register it again when it is ready.",
        _O,
    ),
    Text("release_done", "一時利用停止を解除しました。", "The suspension is released.", _O),
    Text(
        "release_done_reissue",
        "一時利用停止を解除しました。署名用電子証明書は新しく発行されます。"
        "登録準備完了の通知を受け取ったら、マイページから登録してください。",
        "The suspension is released. A new signing certificate is being issued: when you are "
        "told it is ready, register it from my page.",
        _O,
    ),
    Text(
        "card_settings_body",
        "マイナンバーカードの設定は、このシミュレーターでは扱いません。",
        "My Number Card settings are not part of this simulator.",
        _O,
    ),
    Text(
        "old_phone_notice_title",
        "スマホ用電子証明書の失効のお知らせ",
        "Your smartphone certificates were revoked",
        _O,
    ),
    Text(
        "old_phone_deleted",
        "別のスマホでの申請により、このスマホのスマホ用電子証明書は失効されました。"
        "証明書はこのスマホから削除されました。",
        "Because of an application from another phone, the smartphone certificates on this "
        "phone were revoked. They have been deleted from this phone.",
        _O,
    ),
    Text(
        "old_phone_deleted_other",
        "別のスマホから失効の手続きが行われたため、このスマホのスマホ用電子証明書は失効されました。"
        "証明書はこのスマホから削除されました。",
        "The smartphone certificates on this phone were revoked from another phone. They have "
        "been deleted from this phone.",
        _O,
    ),
    Text(
        "old_phone_kept_other",
        "別のスマホから失効の手続きが行われたため、このスマホのスマホ用電子証明書は失効されました。"
        "失効から48時間を過ぎたため、証明書はこのスマホに残っていますが、利用できません。",
        "The smartphone certificates on this phone were revoked from another phone. More than "
        "48 hours have passed, so they remain on this phone but cannot be used.",
        _O,
    ),
    Text(
        "old_phone_kept",
        "別のスマホでの申請により、このスマホのスマホ用電子証明書は失効されました。"
        "失効から48時間を過ぎたため、証明書はこのスマホに残っていますが、利用できません。",
        "Because of an application from another phone, the smartphone certificates on this "
        "phone were revoked. More than 48 hours have passed, so they remain on this phone but "
        "cannot be used.",
        _O,
    ),
    Text(
        "old_phone_deleted_card",
        "マイナンバーカードの更新・再発行により、このスマホのスマホ用電子証明書は失効されました。"
        "証明書はこのスマホから削除されました。",
        "Because your My Number Card was renewed or replaced, the smartphone certificates on "
        "this phone were revoked. They have been deleted from this phone.",
        _O,
    ),
    Text(
        "old_phone_kept_card",
        "マイナンバーカードの更新・再発行により、このスマホのスマホ用電子証明書は失効されました。"
        "失効から48時間を過ぎたため、証明書はこのスマホに残っていますが、利用できません。",
        "Because your My Number Card was renewed or replaced, the smartphone certificates on "
        "this phone were revoked. More than 48 hours have passed, so they remain on this phone "
        "but cannot be used.",
        _O,
    ),
    Text("ok", "OK", "OK", _O),
    # --- ours: the app's frame (home tiles, confirmations, the manual and help pages) ---------
    Text("home_manual", "操作マニュアル", "Manual", _O),
    Text("home_help", "お問合せ", "Contact", _O),
    Text("manual_title", "操作マニュアル", "Manual", _O),
    Text("help_title", "お問合せ", "Contact", _O),
    Text(
        "revoke_own_confirm_title",
        "スマホ用電子証明書を失効しますか？",
        "Revoke the smartphone certificates?",
        _O,
    ),
    Text(
        "revoke_own_confirm_body",
        "失効したスマホ用電子証明書は元に戻せません。再び利用するには、もう一度申請してください。",
        "A revoked certificate cannot be restored. To use one again, apply again.",
        _O,
    ),
    Text(
        "revoke_other_confirm_title",
        "別のスマホのスマホ用電子証明書を失効しますか？",
        "Revoke the certificates on the other phone?",
        _O,
    ),
    Text(
        "revoke_other_confirm_body",
        "失効したスマホ用電子証明書は元に戻せません。失効の後、48時間以内に別のスマホをネットワークに"
        "接続すれば、そのスマホから証明書が削除されます。",
        "A revoked certificate cannot be restored. If the other phone connects to a network "
        "within 48 hours, the certificates are deleted from it.",
        _O,
    ),
    # --- ours: messages (stable codes in screens.MessageCode) ---------------------------------
    Text(
        "err_password_format",
        "パスワードは6～16ケタの英大文字と数字の組み合わせで入力してください。",
        "The password must be 6–16 characters mixing capital letters and digits.",
        _O,
    ),
    Text(
        "err_pin_format",
        "暗証番号は4ケタの数字で入力してください。",
        "The PIN must be 4 digits.",
        _O,
    ),
    Text(
        "err_password_mismatch",
        "入力したパスワードが一致しません。",
        "The two passwords do not match.",
        _O,
    ),
    Text(
        "err_pin_mismatch",
        "入力した暗証番号が一致しません。",
        "The two PINs do not match.",
        _O,
    ),
    Text(
        "err_choose_one_cert",
        "申請するスマホ用電子証明書を1つ以上選択してください。",
        "Choose at least one smartphone certificate.",
        _O,
    ),
    Text(
        "err_wrong_card_secret",
        "マイナンバーカードのパスワードが違います。残り{tries_left}回間違えるとロックされます。",
        "Wrong My Number Card password. {tries_left} more wrong tries lock it.",
        _O,
    ),
    Text(
        "err_card_locked",
        "マイナンバーカードのパスワードがロックされています。お住まいの市区町村窓口で"
        "初期化してください。",
        "The My Number Card password is locked. Have it reset at your municipal office.",
        _O,
    ),
    Text(
        "err_wrong_phone_secret",
        "パスワードが違います。残り{tries_left}回間違えるとロックされます。",
        "Wrong password. {tries_left} more wrong tries lock it.",
        _O,
    ),
    Text(
        "err_phone_locked",
        "パスワードがロックされています。マイページの「パスワード・暗証番号の初期化」から"
        "初期化してください。",
        "The password is locked. Reset it from my page.",
        _O,
    ),
    Text(
        "err_no_other_device",
        "別のスマホに登録されているスマホ用電子証明書はありません。",
        "No smartphone certificates are registered on another phone.",
        _O,
    ),
    Text(
        "err_not_eligible",
        "署名用電子証明書は15歳未満の方には発行されません。",
        "Signing certificates are not issued to people under 15.",
        _O,
    ),
    Text(
        "err_card_certificate_invalid",
        "マイナンバーカードの電子証明書が有効ではありません。",
        "The certificates on your My Number Card are not valid.",
        _O,
    ),
    Text(
        "err_nothing_ready",
        "登録できるスマホ用電子証明書がありません。",
        "No smartphone certificate is ready to register.",
        _O,
    ),
    Text(
        "err_unavailable",
        "通信できませんでした。ネットワークに接続してから、もう一度お試しください。",
        "Could not connect. Connect to a network and try again.",
        _O,
    ),
    Text(
        "err_wrong_card_pin",
        "マイナンバーカードの暗証番号が違います。残り{tries_left}回間違えるとロックされます。",
        "Wrong My Number Card PIN. {tries_left} more wrong tries lock it.",
        _O,
    ),
    Text(
        "err_card_pin_locked",
        "マイナンバーカードの暗証番号がロックされています。お住まいの市区町村窓口で"
        "初期化してください。",
        "The My Number Card PIN is locked. Have it reset at your municipal office.",
        _O,
    ),
    Text(
        "err_wrong_phone_pin",
        "暗証番号が違います。残り{tries_left}回間違えるとロックされます。",
        "Wrong PIN. {tries_left} more wrong tries lock it.",
        _O,
    ),
    Text(
        "err_phone_pin_locked",
        "暗証番号がロックされています。マイページの「パスワード・暗証番号の初期化」から"
        "初期化してください。",
        "The PIN is locked. Reset it from my page.",
        _O,
    ),
    Text(
        "err_card_certificate_held",
        "マイナンバーカードの電子証明書は一時利用停止中です。",
        "The certificates on your My Number Card are suspended.",
        _O,
    ),
    Text(
        "err_nothing_to_revoke",
        "失効できるスマホ用電子証明書がありません。",
        "There is no smartphone certificate to revoke.",
        _O,
    ),
    Text(
        "err_not_suspended",
        "一時利用停止中のスマホ用電子証明書はありません。",
        "No smartphone certificate is suspended.",
        _O,
    ),
    Text(
        "err_session_expired",
        "手続きの有効期限が切れました。はじめからやり直してください。",
        "This step has expired. Please start again.",
        _O,
    ),
    Text(
        "err_rate_limited",
        "しばらく時間をおいてから、もう一度お試しください。",
        "Too many attempts. Please wait a while and try again.",
        _O,
    ),
    Text(
        "err_device_not_recognised",
        "このスマホを確認できませんでした。アプリを再インストールしてから、もう一度お試しください。",
        "This phone could not be recognised. Reinstall the app and try again.",
        _O,
    ),
    Text(
        "err_not_allowed",
        "このスマホでは、この手続きはできません。",
        "This phone cannot do this.",
        _O,
    ),
    Text(
        "err_state_changed",
        "スマホ用電子証明書の状態が変わりました。マイページで確認してください。",
        "The state of your smartphone certificates has changed. Check my page.",
        _O,
    ),
    Text(
        "err_terms_outdated",
        "利用規約が更新されました。アプリを最新にしてから、もう一度お試しください。",
        "The terms have been updated. Update the app and try again.",
        _O,
    ),
    Text(
        "err_device_unsupported",
        "このスマホでは、スマホ用電子証明書を利用できません。",
        "Smartphone certificates cannot be used on this phone.",
        _O,
    ),
    Text(
        "err_register_failed",
        "スマホ用電子証明書を登録できませんでした。もう一度申請してください。",
        "The smartphone certificate could not be registered. Please apply again.",
        _O,
    ),
    Text(
        "err_secrets_needed",
        "申請時に設定したパスワードと暗証番号を入力してください。",
        "Enter the password and PIN you set when applying.",
        _O,
    ),
    Text(
        "err_chip_error",
        "ICチップとの通信でエラーが発生しました。もう一度お試しください。",
        "Communication with the chip failed. Please try again.",
        _O,
    ),
    Text(
        "err_in_progress",
        "別の申請を処理しています。しばらくしてから、もう一度お試しください。",
        "Another application is being processed. Please try again in a moment.",
        _O,
    ),
    Text(
        "err_invalid_request",
        "手続きの内容を確認できませんでした。はじめからやり直してください。",
        "The request could not be understood. Please start again.",
        _O,
    ),
    Text(
        "err_other",
        "エラーが発生しました。時間をおいて、もう一度お試しください。",
        "An error occurred. Please try again later.",
        _O,
    ),
)
