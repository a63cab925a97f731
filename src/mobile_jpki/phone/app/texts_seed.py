# ruff: noqa: RUF001, RUF002 - Japanese text uses full-width punctuation on purpose
"""The texts of the user's document (``seed/000_5703786ead540e5a.txt``), copied to the letter.

``DOCUMENT``: printed on a screen, steps ①–⑬. ``GUIDE``: the narration around the screenshots,
shown beside the phone by the simulator. See :mod:`.texts` for the rules of the three sources.
"""

from __future__ import annotations

from mobile_jpki.phone.app.texts_model import Text, TextSource

_D = TextSource.DOCUMENT
_G = TextSource.GUIDE

SEED_TEXTS: tuple[Text, ...] = (
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
    # --- document: the help block (お問合せ) after the steps, copied to the letter -------------
    Text(
        "hotline_heading",
        "マイナンバー制度、マイナンバーカードについてのお問合せ",
        "Inquiries about the My Number system and the My Number Card",
        _G,
    ),
    Text("hotline_free_dial", "マイナンバー総合フリーダイヤル", "My Number toll-free line", _G),
    Text("hotline_free_dial_number", "0120-95-0178", "0120-95-0178", _G),
    Text("hotline_hours_heading", "受付時間", "Opening hours", _G),
    Text(
        "hotline_hours_weekday",
        "平日：9時30分～20時00分",
        "Weekdays: 9:30-20:00",
        _G,
    ),
    Text(
        "hotline_hours_weekend",
        "土日祝：9時30分～17時30分（年末年始を除く）",
        "Weekends and holidays: 9:30-17:30 (except the New Year holidays)",
        _G,
    ),
    Text(
        "hotline_suspend_24h",
        "紛失・盗難によるマイナンバーカードの一時利用停止については24時間365日受付！",
        "Suspension of a lost or stolen My Number Card is accepted 24 hours a day, 365 days "
        "a year!",
        _G,
    ),
    Text(
        "hotline_ip_heading",
        "■一部のIP電話等で上記ダイヤルに繋がらない場合",
        "■ If the number above cannot be reached from some IP phones",
        _G,
    ),
    Text("hotline_ip_card", "マイナンバーカード等", "My Number Card etc.", _G),
    Text("hotline_ip_card_number", "050-3818-1250", "050-3818-1250", _G),
    Text("hotline_ip_other", "その他のお問合せ", "Other inquiries", _G),
    Text("hotline_ip_other_number", "050-3816-9405", "050-3816-9405", _G),
    Text(
        "hotline_multi_heading",
        "■英語、中国語、韓国語、スペイン語、ポルトガル語等対応のフリーダイヤル",
        "■ Toll-free lines in English, Chinese, Korean, Spanish, Portuguese, etc.",
        _G,
    ),
    Text("hotline_multi_system", "マイナンバー制度について", "The My Number system", _G),
    Text("hotline_multi_system_number", "0120-0178-26", "0120-0178-26", _G),
    # The document prints these three lines in English on its Japanese page: both languages
    # show them as printed (texts.SAME_IN_BOTH_LANGUAGES).
    Text(
        "hotline_multi_system_en",
        "Inquiries about the Social Security and Tax Number System.",
        "Inquiries about the Social Security and Tax Number System.",
        _G,
    ),
    Text("hotline_multi_card", "マイナンバーカード等", "My Number Card etc.", _G),
    Text("hotline_multi_card_number", "0120-0178-27", "0120-0178-27", _G),
    Text(
        "hotline_multi_card_en",
        "Inquiries about Individual Number Card, etc.",
        "Inquiries about Individual Number Card, etc.",
        _G,
    ),
    Text(
        "hotline_multi_note_en",
        "This telephone number is toll-free corresponding to English, Chinese, Korean, "
        "Spanish, Portuguese, etc.",
        "This telephone number is toll-free corresponding to English, Chinese, Korean, "
        "Spanish, Portuguese, etc.",
        _G,
    ),
)
