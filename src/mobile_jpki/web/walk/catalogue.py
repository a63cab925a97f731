# ruff: noqa: RUF001 - Japanese captions and the document's step ranges use full-width
# punctuation and en dashes on purpose
"""What is shot, in the order ``docs/screens.md`` shows it: one :class:`Shot` per picture."""

from __future__ import annotations

from dataclasses import dataclass

from mobile_jpki.phone.app.texts_model import Lang

LANGS = (Lang.JA, Lang.EN)


@dataclass(frozen=True)
class Shot:
    """One picture: ``name`` is the file stem (``<name>-<lang>.png``; the front door has one,
    bilingual picture ``<name>.png``). ``steps``: the user's document's step numbers;
    ``seed``: ids of the document's narration for those steps (texts_seed, GUIDE); ``what``:
    what the picture shows, in Japanese and English."""

    name: str
    group: str
    phone: str
    steps: str
    seed: tuple[str, ...]
    what: tuple[str, str]


FLOW, OLD_PHONE, SIDE, FRONT = "flow", "old-phone", "side", "front"
AUTHAPP = "authapp"

CATALOGUE: tuple[Shot, ...] = (
    Shot(
        "00-front-door",
        FRONT,
        "page",
        "",
        (),
        (
            "入口 /（mobile-jpki serve --simulator）",
            "The front door / (mobile-jpki serve --simulator)",
        ),
    ),
    Shot("01-home", FLOW, "new", "①②", ("guide_step1", "guide_step2"), ("ホーム", "Home")),
    Shot(
        "02-my-page",
        FLOW,
        "new",
        "②③",
        ("guide_step2_note", "guide_step3"),
        ("マイページ", "My page"),
    ),
    Shot(
        "03-apply-form",
        FLOW,
        "new",
        "④–⑦",
        ("guide_step4", "guide_step5", "guide_step6", "guide_step7"),
        ("機種変更の申請（1画面、スクロール）", "The model-change form (one scrolling screen)"),
    ),
    Shot(
        "04-card-read",
        FLOW,
        "new",
        "⑧",
        ("guide_step8",),
        ("マイナンバーカード読み取り", "Reading the card"),
    ),
    Shot(
        "05-revoke-old-dialog",
        FLOW,
        "new",
        "⑨",
        ("guide_step9", "guide_step9_note"),
        (
            "旧スマホ用電子証明書の失効確認",
            "The dialog: the old phone's certificates will be revoked",
        ),
    ),
    Shot(
        "06-new-password-sign",
        FLOW,
        "new",
        "⑩",
        ("guide_step10_note", "guide_screen_example_sign", "guide_step10"),
        ("署名用電子証明書のパスワード", "The signing certificate's password"),
    ),
    Shot(
        "07-new-password-pin",
        FLOW,
        "new",
        "⑩⑪",
        ("guide_step10", "guide_step11"),
        ("利用者証明用電子証明書の暗証番号", "The user-authentication certificate's PIN"),
    ),
    Shot(
        "08-apply-done",
        FLOW,
        "new",
        "⑪",
        ("guide_step11_caption",),
        ("申請の完了（プッシュ通知 オン）", "Application done (push notifications on)"),
    ),
    Shot(
        "08-apply-done-push-off",
        FLOW,
        "old",
        "⑪",
        ("guide_step11_caption",),
        ("申請の完了（プッシュ通知 オフ）", "Application done (push notifications off)"),
    ),
    Shot(
        "09-push-banner",
        FLOW,
        "new",
        "⑫",
        ("guide_step12_note",),
        ("プッシュ通知 登録準備完了", "The push: ready to register"),
    ),
    Shot(
        "10-my-page-ready",
        FLOW,
        "new",
        "⑫",
        ("guide_step12",),
        ("マイページ（登録準備が完了しています）", "My page: ready to register"),
    ),
    Shot(
        "11-register",
        FLOW,
        "new",
        "⑫→⑬",
        ("guide_step13",),
        ("スマホ用電子証明書の登録", "Registering the certificates"),
    ),
    Shot(
        "12-register-done",
        FLOW,
        "new",
        "⑬",
        ("guide_step13_caption", "guide_biometrics_note", "guide_manual"),
        ("登録完了", "Registration done"),
    ),
    Shot(
        "13-manual-1", FLOW, "new", "", ("guide_manual",), ("操作マニュアル ①–⑨", "The manual, ①–⑨")
    ),
    Shot(
        "14-manual-2",
        FLOW,
        "new",
        "",
        ("guide_continued",),
        ("操作マニュアル（続き）⑩–⑬", "The manual, continued: ⑩–⑬"),
    ),
    Shot("15-help", FLOW, "new", "", ("hotline_heading",), ("お問合せ", "Help: the hotline")),
    Shot(
        "20-notice-model-change",
        OLD_PHONE,
        "old",
        "",
        ("guide_wifi",),
        (
            "古いスマホ: 機種変更、48時間以内に接続（削除）",
            "Old phone: model change, online within 48 h (deleted)",
        ),
    ),
    Shot(
        "21-notice-model-change-48h",
        OLD_PHONE,
        "old",
        "",
        (),
        (
            "古いスマホ: 機種変更、48時間後に接続（残るが利用不可）",
            "Old phone: model change, online after 48 h (kept, unusable)",
        ),
    ),
    Shot(
        "22-notice-revoked-other",
        OLD_PHONE,
        "new",
        "",
        (),
        (
            "別のスマホから失効、48時間以内（削除）",
            "Revoked from another phone, within 48 h (deleted)",
        ),
    ),
    Shot(
        "23-notice-revoked-other-48h",
        OLD_PHONE,
        "old",
        "",
        (),
        ("別のスマホから失効、48時間後", "Revoked from another phone, after 48 h"),
    ),
    Shot(
        "24-notice-card-replaced",
        OLD_PHONE,
        "old",
        "",
        (),
        ("カードの更新・再発行、48時間以内", "Card renewed or replaced, within 48 h"),
    ),
    Shot(
        "25-notice-card-replaced-48h",
        OLD_PHONE,
        "old",
        "",
        (),
        ("カードの更新・再発行、48時間後", "Card renewed or replaced, after 48 h"),
    ),
    Shot(
        "30-biometrics",
        SIDE,
        "new",
        "⑬",
        ("guide_biometrics_note",),
        ("生体認証の利用登録", "Enrolling biometrics"),
    ),
    Shot("31-self-check", SIDE, "new", "⑬", (), ("動作確認", "Self-check")),
    Shot(
        "32-self-check-result",
        SIDE,
        "new",
        "",
        (),
        ("動作確認の結果（OCSP）", "Self-check result (OCSP)"),
    ),
    Shot(
        "33-revoke-own",
        SIDE,
        "new",
        "",
        (),
        ("このスマホの証明書を失効", "Revoking this phone's certificates"),
    ),
    Shot("34-revoke-own-confirm", SIDE, "new", "", (), ("失効の確認", "Confirming the revocation")),
    Shot(
        "35-revoke-other",
        SIDE,
        "old",
        "",
        (),
        ("別のスマホの証明書を失効", "Revoking another phone's certificates"),
    ),
    Shot(
        "36-revoke-other-confirm", SIDE, "old", "", (), ("失効の確認", "Confirming the revocation")
    ),
    Shot("37-revoke-other-card", SIDE, "old", "", (), ("カード読み取り", "Reading the card")),
    Shot("38-revoke-other-done", SIDE, "old", "", (), ("完了", "Done")),
    Shot(
        "39-reset-choose",
        SIDE,
        "new",
        "",
        (),
        ("パスワードの初期化: 証明書を選ぶ", "Password reset: choose the certificate"),
    ),
    Shot(
        "40-reset-card",
        SIDE,
        "new",
        "",
        (),
        ("初期化: カードのパスワード", "Reset: the card's password"),
    ),
    Shot(
        "41-reset-new", SIDE, "new", "", (), ("初期化: 新しいパスワード", "Reset: the new password")
    ),
    Shot("42-release", SIDE, "new", "", (), ("一時利用停止の解除", "Releasing a suspension")),
    Shot(
        "43-release-done",
        SIDE,
        "new",
        "",
        (),
        ("解除の完了（署名用は再発行）", "Release done (the signing certificate re-issued)"),
    ),
    Shot(
        "44-card-settings",
        SIDE,
        "new",
        "",
        (),
        ("マイナンバーカードの設定", "My Number Card settings"),
    ),
    Shot(
        "45-error-pin-mismatch",
        SIDE,
        "new",
        "⑩",
        (),
        ("入力の誤り: 暗証番号が一致しません", "A typing error: the PINs differ"),
    ),
    Shot(
        "50-authapp-open",
        AUTHAPP,
        "old",
        "",
        (),
        ("デジタル認証アプリ: 認証要求のURLを開く", "The authentication app: opening a request"),
    ),
    Shot(
        "51-authapp-consent",
        AUTHAPP,
        "old",
        "",
        (),
        ("同意の確認: サービスが求める情報", "Consent: what the relying party asks for"),
    ),
    Shot(
        "52-authapp-pin",
        AUTHAPP,
        "old",
        "",
        (),
        ("利用者証明用暗証番号の入力", "The user-authentication PIN"),
    ),
    Shot(
        "53-authapp-password",
        AUTHAPP,
        "old",
        "",
        (),
        (
            "署名用パスワード（情報の提供・署名のときだけ）",
            "The signing password (only for facts or a signature)",
        ),
    ),
    Shot(
        "54-authapp-done",
        AUTHAPP,
        "old",
        "",
        (),
        ("完了: ブラウザに戻る", "Done: back to the browser"),
    ),
    Shot(
        "55-authapp-card-pin",
        AUTHAPP,
        "old",
        "",
        (),
        ("マイナンバーカードで読み取る", "With the My Number Card instead"),
    ),
    Shot(
        "56-authapp-refused",
        AUTHAPP,
        "old",
        "",
        (),
        ("認証できませんでした（期限切れ）", "Refused: the request expired"),
    ),
)
SHOTS: dict[str, Shot] = {s.name: s for s in CATALOGUE}
