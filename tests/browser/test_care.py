"""Get help now and the page after a post with a crisis signal, in a real browser with JavaScript off."""
from __future__ import annotations

from urllib.parse import urlsplit

from fedisupport import care, db
from fedisupport.domain import accounts, posting

PASSWORD = "a long enough password"


async def test_help_page_region_chooser_and_the_page_after_a_worrying_post(instance, browser):
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        await care.seed_all(session)
        user = await accounts.create_user(session, settings, "ada", PASSWORD)
        ada = await session.get(accounts.Actor, user.actor_id)
        community = await accounts.create_community(session, settings, "hope", "Hope", languages="en es")
        thread = await posting.start_thread(session, settings, ada, community, title="Tonight", body="How are you?")
    base = instance.base_url
    origin = urlsplit(base).netloc
    context = await browser.new_context(java_script_enabled=False, locale="es-MX",
                                        extra_http_headers={"Accept-Language": "es-MX,es;q=0.9"})
    page = await context.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda request: urlsplit(request.url).netloc != origin and elsewhere.append(request.url))
    try:
        # "Get help now" is one click from any page, and starts with the immediate-danger line. The
        # browser asks for Spanish (es-MX), so the page is in Spanish (docs/i18n.md).
        await page.goto(base + "/c/hope")
        await page.get_by_role("link", name="Pide ayuda ahora").click()
        await page.wait_for_url("**/help")
        main = await page.inner_text("main")
        assert main.index("Si estás en peligro ahora mismo") < main.index("Línea de la Vida")
        assert "Habla con alguien ahora en México" in main
        assert await page.get_by_role("link", name="800 911 2000").get_attribute("href") == "tel:8009112000"
        # Other countries are folded away until asked for.
        assert not await page.get_by_text("Samaritans", exact=True).is_visible()
        await page.get_by_text("Servicios en otros países").click()
        assert await page.get_by_text("Samaritans", exact=True).first.is_visible()

        # Choose another country with the plain form (keyboard only).
        await page.get_by_label("Mostrar servicios de").select_option("IN")
        await page.get_by_role("button", name="Mostrar", exact=True).focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/help?region=saved*")
        main = await page.inner_text("main")
        assert "Habla con alguien ahora en India" in main
        assert main.index("Tele-MANAS") < main.index("En cualquier parte del mundo")

        # Log in and reply with words that may mean someone is at risk.
        await page.goto(base + "/login")
        await page.get_by_label("Tu nombre").fill("ada")
        await page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Iniciar sesión").click()
        await page.goto(base + f"/p/{thread.id}/reply")
        await page.locator("textarea#body").fill("No sé... ya no quiero vivir.")
        await page.get_by_role("button", name="Publicar respuesta").click()
        await page.wait_for_url("**/support")
        main = await page.inner_text("main")
        assert "Gracias por compartir esto" in main
        assert main.index("peligro ahora mismo") < main.index("Tele-MANAS")  # India, as chosen
        await page.get_by_role("link", name="Ir a tu publicación").click()
        await page.wait_for_url(f"**/p/{thread.id}**")
        assert "ya no quiero vivir" in await page.inner_text("main")
        assert elsewhere == [], elsewhere
    finally:
        await context.close()
