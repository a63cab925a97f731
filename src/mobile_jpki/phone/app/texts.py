# ruff: noqa: RUF001, RUF002, RUF003 - Japanese text uses full-width punctuation on purpose
"""Every text the app shows, keyed by a stable id, in Japanese and English.

Three sources, kept apart so that nobody "improves" the user's document by accident:

- ``DOCUMENT``: a text printed on a screen in the user's document
  (``seed/000_5703786ead540e5a.txt``, the Mynaportal app's model-change guide, steps ①–⑬).
  The Japanese is copied to the letter; tests check it against the document itself.
- ``GUIDE``: the document's narration around the screenshots (step captions such as
  「⑧マイナンバーカードを読み取ります」). The app never shows these; the browser simulator shows
  them beside the phone so a person can follow the guide.
- ``OURS``: wording the document does not give (other flows, error messages, the old phone's
  notice). Written in the document's style; the English is a plain translation.

Line breaks the document introduces only for layout (e.g. after 「マイナンバーカード用署名用
電子証明書」) are joined; the bullet 「・」 and the chevron 「>」 are rendering, not text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Lang(StrEnum):
    JA = "ja"
    EN = "en"


class TextSource(StrEnum):
    DOCUMENT = "document"
    GUIDE = "guide"
    OURS = "ours"


@dataclass(frozen=True)
class Text:
    """One text. ``step`` names the document step (①–⑬) where it appears, if any.

    ``ja``/``en`` may hold ``{name}`` placeholders filled by :func:`text`.
    """

    id: str
    ja: str
    en: str
    source: TextSource
    step: str = ""

    def in_lang(self, lang: Lang) -> str:
        return self.ja if lang is Lang.JA else self.en


_D = TextSource.DOCUMENT
_G = TextSource.GUIDE
_O = TextSource.OURS

_ALL: tuple[Text, ...] = (
    # --- document: screens ----------------------------------------------------------------
    Text("my_page", "マイページ", "My page", _D, "②⑫"),
    Text(
        "menu_apply", "スマホ用電子証明書を申請する", "Apply for smartphone certificates", _D, "③"
    ),
    Text(
        "menu_transfer_heading",
        "スマホ用電子証明書の引継ぎ",
        "Carry over smartphone certificates",
        _D,
        "③",
    ),
    Text("model_change", "機種変更", "Model change", _D, "③④"),
    Text(
        "menu_other_phone_heading",
        "別のスマホのスマホ用電子証明書",
        "Smartphone certificates on another phone",
        _D,
        "③",
    ),
    Text("revoke", "失効", "Revoke", _D, "③"),
    Text("menu_card_heading", "マイナンバーカード", "My Number Card", _D, "③"),
    Text("menu_card_settings", "マイナンバーカードの設定", "My Number Card settings", _D, "③"),
    Text("menu_push_heading", "マイナポータルからの通知", "Notifications from Mynaportal", _D, "③"),
    Text("menu_push_on", "プッシュ通知 オン", "Push notifications On", _D, "③"),
    Text(
        "uses_card", "マイナンバーカードを使用します。", "This uses your My Number Card.", _D, "④"
    ),
    Text(
        "enter_card_sign_password",
        "マイナンバーカード用署名用電子証明書のパスワードを入力してください。",
        "Enter the password of the signing certificate on your My Number Card.",
        _D,
        "④",
    ),
    Text("notes_heading", "注意事項", "Notes", _D, "④"),
    Text(
        "note_signature",
        "マイナンバーカード用署名用電子証明書を用いて電子署名を行います。",
        "An electronic signature is made with the signing certificate on your My Number Card.",
        _D,
        "④",
    ),
    Text(
        "note_give_away",
        "スマホを譲渡する場合などは、悪用防止のため事前に失効処理をしてください。",
        "Before giving your phone away, revoke its certificates to prevent misuse.",
        _D,
        "④",
    ),
    Text(
        "sign_password_hint",
        "6～16ケタ、英大文字と数字の組み合わせ",
        "6–16 characters, a mix of capital letters and digits",
        _D,
        "④⑩",
    ),
    Text("password", "パスワード", "Password", _D, "④"),
    Text(
        "choose_certs_instruction",
        "片方のスマホ用電子証明書のみを申請する方は、申請しないスマホ用電子証明書のチェックを"
        "外してください。",
        "To apply for only one of the smartphone certificates, untick the one you do not "
        "apply for.",
        _D,
        "⑤",
    ),
    Text("cert_sign", "署名用電子証明書", "Signing certificate", _D, "⑤⑫"),
    Text("cert_auth", "利用者証明用電子証明書", "User-authentication certificate", _D, "⑤⑫"),
    Text(
        "confirm_instruction",
        "申請にあたり、下記の内容を確認してください。確認したら、「確認しました」をチェックし"
        "「申請する」をタップしてください。",
        'Before applying, read the text below. When you have read it, tick "I have read '
        'it" and tap "Apply".',
        _D,
        "⑤",
    ),
    Text(
        "terms_article1",
        "(目的) 第1条 本利用規約は、デジタル庁が運営する本システムの利用に関し、システム利用者に"
        "同意していただくことが必要な事項を定めることを目的とします。",
        "(Purpose) Article 1. These terms set out what users must agree to in order to use "
        "this system operated by the Digital Agency.",
        _D,
        "⑥",
    ),
    Text("confirmed", "確認しました", "I have read it", _D, "⑥"),
    Text("apply", "申請する", "Apply", _D, "⑦"),
    Text("card_read_title", "マイナンバーカード読み取り", "Read My Number Card", _D, "⑧"),
    Text(
        "card_read_instruction",
        "マイナンバーカードを端末のカード読み取り位置にピッタリと密着させます。"
        "読み取りが終わるまで動かさずしばらくお待ちください。",
        "Hold your My Number Card flat against the phone's card-reading spot. Keep it still "
        "until reading has finished.",
        _D,
        "⑧",
    ),
    Text(
        "revoke_old_title",
        "旧スマホ用電子証明書は失効されます",
        "Your old smartphone certificates will be revoked",
        _D,
        "⑨",
    ),
    Text(
        "revoke_old_body",
        "ご自身のスマホ用電子証明書が別端末に登録されています。このまま手続きを進めると別端末に"
        "登録されている証明書は失効されます。失効する場合、48時間以内に別端末をネットワークに"
        "接続すれば、端末から証明書が削除されます。",
        "Your smartphone certificates are registered on another device. If you go on, the "
        "certificates on that device will be revoked. If you connect that device to a network "
        "within 48 hours, the certificates will be deleted from it.",
        _D,
        "⑨",
    ),
    Text("agree_next", "同意して次へ", "Agree and continue", _D, "⑨"),
    Text("quit", "やめる", "Stop", _D, "⑨"),
    Text("new_password_title", "新しいパスワードの設定", "Set a new password", _D, "⑩"),
    Text("next", "次へ", "Next", _D, "⑪"),
    Text("apply_done_title", "申請の完了", "Application complete", _D, "⑪"),
    Text(
        "apply_done_body",
        "スマホ用電子証明書の利用申請しました",
        "You have applied to use smartphone certificates",
        _D,
        "⑪",
    ),
    Text("push_ready", "登録準備完了", "Ready to register", _D, "⑫"),
    Text("ready_status", "登録準備が完了しています", "Ready to register", _D, "⑫"),
    Text("register", "登録する", "Register", _D, "⑫⑬"),
    Text("register_title", "スマホ用電子証明書の登録", "Register smartphone certificates", _D, "⑫"),
    Text(
        "register_body",
        "登録準備が完了しています。申請いただいたスマホ用電子証明書をスマートフォンに登録します。",
        "Everything is ready. The smartphone certificates you applied for will now be "
        "registered on this smartphone.",
        _D,
        "⑫",
    ),
    Text("register_done_title", "登録完了", "Registration complete", _D, "⑬"),
    Text(
        "register_done_body",
        "登録が完了しました。スマホ用電子証明書をご利用ください。",
        "Registration is complete. You can now use your smartphone certificates.",
        _D,
        "⑬",
    ),
    Text("enrol_biometrics", "生体認証などを利用登録する", "Set up biometrics and more", _D, "⑬"),
    Text("self_check", "動作確認する", "Check it works", _D, "⑬"),
    Text("to_my_page", "マイページへ", "To my page", _D, "⑬"),
    # --- document: narration, shown beside the phone by the simulator --------------------
    Text(
        "guide_service",
        "スマホ用電子証明書搭載サービス",
        "Smartphone electronic-certificate service",
        _G,
    ),
    Text(
        "guide_heading",
        "機種変更後もご利用いただくために",
        "Keep using them after a model change",
        _G,
    ),
    Text(
        "guide_intro",
        "機種変更後もスマホ用電子証明書を利用する場合は、新しいスマホから、スマホ用電子証明書の"
        "利用手続きを行ってください。",
        "To keep using smartphone certificates after changing phones, apply from the new phone.",
        _G,
    ),
    Text(
        "guide_intro_steps",
        "▶以下の操作手順において、新しいスマホの電子証明書の発行から、古いスマホの電子証明書の"
        "失効まで、一連の手続きが行えます。",
        "▶ The steps below take you from issuing the new phone's certificates to revoking the "
        "old phone's.",
        _G,
    ),
    Text(
        "guide_wifi",
        "※操作手順を行う際に、古いスマホをWiFi等でネットワークに接続することをお勧めします。"
        "古いスマホの電子証明書の削除まで行えます。",
        "* Keep the old phone connected to a network (Wi-Fi etc.) while you do this: its "
        "certificates can then be deleted too.",
        _G,
    ),
    Text("guide_step1", "①マイナポータルアプリを開き", "① Open the Mynaportal app", _G, "①"),
    Text("guide_step2", "②「マイページ」を押します", '② Press "My page"', _G, "②"),
    Text("guide_step2_note", "マイページへ移動します", "You move to my page", _G, "②"),
    Text("guide_step3", "③「機種変更」を押します", '③ Press "Model change"', _G, "③"),
    Text(
        "guide_step4",
        "④半角の英大文字と数字を含む、6文字から16文字のパスワードを入力します",
        "④ Enter the password: 6 to 16 half-width characters with capital letters and digits",
        _G,
        "④",
    ),
    Text(
        "guide_step5",
        "⑤申請するスマホ用電子証明書にチェックを付けます",
        "⑤ Tick the smartphone certificates you apply for",
        _G,
        "⑤",
    ),
    Text(
        "guide_step6", "⑥「確認しました」にチェックを付けます", '⑥ Tick "I have read it"', _G, "⑥"
    ),
    Text("guide_step7", "⑦「申請する」を押します", '⑦ Press "Apply"', _G, "⑦"),
    Text("guide_step8", "⑧マイナンバーカードを読み取ります", "⑧ Read your My Number Card", _G, "⑧"),
    Text("guide_step9", "⑨「同意して次へ」を押します", '⑨ Press "Agree and continue"', _G, "⑨"),
    Text(
        "guide_step9_note",
        "古いスマホの旧電子証明書の失効確認ダイアログが表示",
        "A dialog asks you to confirm revoking the old phone's certificates",
        _G,
        "⑨",
    ),
    Text("guide_continued", "続きはこちら", "Continued here", _G, "⑨"),
    Text(
        "guide_screen_example_sign",
        "画面例 署名用電子証明書",
        "Example screen: signing certificate",
        _G,
        "⑩",
    ),
    Text(
        "guide_step10_note",
        "申請するスマホ用電子証明書のパスワード設定に移動",
        "You move on to set the passwords of the certificates you apply for",
        _G,
        "⑩",
    ),
    Text(
        "guide_step10",
        "⑩スマホ用電子証明書のパスワードを設定します",
        "⑩ Set the smartphone certificate passwords",
        _G,
        "⑩",
    ),
    Text("guide_step11", "⑪「次へ」を押します", '⑪ Press "Next"', _G, "⑪"),
    Text(
        "guide_step11_caption",
        "スマホ用電子証明書の利用申請完了",
        "Smartphone certificate application complete",
        _G,
        "⑪",
    ),
    Text(
        "guide_step12_note",
        "登録準備完了のプッシュ通知を受信後、マイページに移動",
        'After the "Ready to register" push notification, go to my page',
        _G,
        "⑫",
    ),
    Text("guide_step12", "⑫「登録する」を押します", '⑫ Press "Register"', _G, "⑫"),
    Text("guide_step13", "⑬「登録する」を押します", '⑬ Press "Register"', _G, "⑬"),
    Text(
        "guide_step13_caption",
        "スマホ用電子証明書の登録完了",
        "Smartphone certificate registration complete",
        _G,
        "⑬",
    ),
    Text(
        "guide_biometrics_note",
        "※生体認証を利用される場合は、登録完了後に、生体認証登録に進みます",
        "* To use biometrics, you go on to enrol them after registration",
        _G,
        "⑬",
    ),
    Text(
        "guide_manual",
        "マイナポータルアプリの操作マニュアルはこちら",
        "The Mynaportal app manual is here",
        _G,
    ),
    Text(
        "guide_hotline",
        "マイナンバー総合フリーダイヤル 0120-95-0178 "
        "紛失・盗難によるマイナンバーカードの一時利用停止については24時間365日受付！",
        "My Number toll-free line 0120-95-0178: suspension of a lost or stolen card is "
        "accepted 24 hours a day, 365 days a year.",
        _G,
    ),
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
    Text("menu_password_reset", "パスワードの初期化", "Reset a password", _O),
    Text("menu_release", "一時利用停止の解除", "Release the suspension", _O),
    Text("status_none", "未申請", "Not applied for", _O),
    Text("status_applied", "申請中", "Applied for", _O),
    Text("status_registered", "登録済み", "Registered", _O),
    Text("status_suspended", "一時利用停止中", "Suspended", _O),
    Text("status_revoked", "失効済み", "Revoked", _O),
    Text("auth_pin_hint", "4ケタの数字", "4 digits", _O),
    Text("password_again", "パスワード（確認用）", "Password (again)", _O),
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
        "利用者証明用電子証明書のパスワードを設定してください。",
        "Set the password of the user-authentication certificate.",
        _O,
    ),
    Text(
        "apply_done_wait",
        "登録準備が完了すると、プッシュ通知でお知らせします。",
        "You will get a push notification when registration is ready.",
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
    Text("reset_title", "パスワードの初期化", "Reset a password", _O),
    Text(
        "reset_choose",
        "パスワードを初期化するスマホ用電子証明書を選んでください。",
        "Choose the smartphone certificate whose password you reset.",
        _O,
    ),
    Text("reset_done", "パスワードを初期化しました。", "The password is reset.", _O),
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
    Text("ok", "OK", "OK", _O),
    # --- ours: messages (stable codes in flows.MessageCode) -----------------------------------
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
        "The two entries do not match.",
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
        "パスワードがロックされています。パスワードの初期化を行ってください。",
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
        "暗証番号がロックされています。マイページから暗証番号の初期化を行ってください。",
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
        "err_application_in_progress",
        "別の申請を処理しています。しばらくしてから、もう一度お試しください。",
        "Another application is being processed. Please try again in a while.",
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
        "err_other",
        "エラーが発生しました。時間をおいて、もう一度お試しください。",
        "An error occurred. Please try again later.",
        _O,
    ),
)

TEXTS: Mapping[str, Text] = {t.id: t for t in _ALL}
if len(TEXTS) != len(_ALL):  # pragma: no cover - guards editing mistakes at import time
    raise RuntimeError("duplicate text id in phone.app.texts")


def text(text_id: str, lang: Lang = Lang.JA, **params: str) -> str:
    """The text ``text_id`` in ``lang`` with its ``{placeholders}`` filled."""
    value = TEXTS[text_id].in_lang(lang)
    return value.format(**params) if params else value


# Lines of the document that are on no screen and why: recorded so the coverage test accounts
# for every line of steps ①–⑬ rather than silently skipping some.
DOCUMENT_LINES_NOT_ON_SCREENS: Mapping[str, str] = {
    "マイナページ": (
        "the caption over screen ③ spells my page 「マイナページ」; step ② and screen ⑫ say "
        "「マイページ」, so we read it as a typo and show 「マイページ」"
    ),
    "スクロール": "a layout annotation: screens ④–⑦ are one scrolling screen",
}
