"""What site generators put inside a writer's sentences never trains as a sentence with a
hole; the words they keep (link text, captions, a component's children, definitions) do
come in, each as its kind.

New-user trial findings: `Welcome to {{ site.title }}, my blog.` came in as the prose
`Welcome to , my blog.`; MDX `{expressions}` came in as prose and the words inside
`<Callout>` as markup; Hexo / Zola image tags and lone Markdown images lost their
captions; a definition list came in as `Term : definition`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.corpus import importer, markdown
from tests.blog import write

MESSY = Path(__file__).parent / "blogs" / "messy"


def imported(store, tmp_path: Path, name: str, body: str) -> list[tuple[str, str]]:
    """(kind, text) of every segment of one post, imported through the real importer."""
    write(tmp_path / name, f"---\ntitle: A post\n---\n\n{body}")
    report = importer.import_paths(store, [tmp_path])
    assert report.imported == 1, report
    return [(s["kind"], s["text"]) for s in store.segments()]


def kinds_and_texts(body: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in markdown.segments(body)]


# --- 1. inline template output -------------------------------------------------------------

def test_a_sentence_with_template_output_in_it_is_markup_never_prose(store, tmp_path):
    found = imported(store, tmp_path, "post.md", (
        "Welcome to {{ site.title }}, my blog.\n\n"
        "Posted by {{ page.author | default: 'me' }} in {%- if x -%}May{%- endif -%}.\n\n"
        "Zola shows {{ config.extra.author }} here, Nunjucks {{ title | upper }} there.\n\n"
        "I love {% include icon.html %} tea.\n\n"
        "The last paragraph is all mine.\n"))
    assert found == [
        ("markup", "Welcome to {{ site.title }}, my blog."),
        ("markup", "Posted by {{ page.author | default: 'me' }} in {%- if x -%}May{%- endif -%}."),
        ("markup", "Zola shows {{ config.extra.author }} here, Nunjucks {{ title | upper }} "
                   "there."),
        ("markup", "I love {% include icon.html %} tea."),
        ("prose", "The last paragraph is all mine.")]


def test_the_words_of_a_link_a_tag_builds_stay_in_the_sentence(store, tmp_path):
    found = imported(store, tmp_path, "links.md", (
        "See {% post_link hello-world 'my first post' %} for more.\n\n"
        'Or {% post_link other "the second one" false %} and {% asset_link notes.pdf My notes %}.'
        "\n\nRead [the intro]({% post_url 2020-01-01-intro %}) first, then [the about page]"
        "({% link _pages/about.md %}).\n\n"
        "Also [this]({{ site.baseurl }}{% post_url 2020-02-02-x %}) and [that]({{< ref "
        '"that.md" >}}).\n\n'
        'Zola: [about]({{ ref(path="@/about.md") }}) and [the blog](@/blog/_index.md).\n\n'
        "[Just a link]({% post_url 2021-01-01-y %})\n\n"
        "{% post_link slug-only %} has no words of its own.\n"))
    assert found == [
        ("prose", "See my first post for more."),
        ("prose", "Or the second one and My notes."),
        ("prose", "Read the intro first, then the about page."),
        ("prose", "Also this and that."),
        ("prose", "Zola: about and the blog."),
        ("link", "Just a link"),
        ("markup", "{% post_link slug-only %} has no words of its own.")]


def test_a_list_of_template_output_is_markup(store, tmp_path):
    found = imported(store, tmp_path, "index.md", (
        "My posts:\n\n{% for post in collections.posts %}\n- {{ post.data.title }}\n"
        "{% endfor %}\n\n* {{ post.url }}\n* {{ post.date }}\n\n## About {{ site.author }}\n"))
    assert found == [("prose", "My posts:"), ("markup", ""), ("markup", ""), ("markup", ""),
                     ("markup", "About {{ site.author }}")]


def test_what_a_tag_does_not_fill_in_is_no_hole():
    assert kinds_and_texts(
        "Use `{{ site.title }}` to print the title.\n\n"
        "Escape it: `{% raw %}{{ x }}{% endraw %}`.\n\n"
        "A {{< mark >}}marked{{< /mark >}} word, a {{% hl %}}lit{{% /hl %}} one.\n\n"
        "Text {# a Nunjucks comment #} here.\n\n"
        "Math $\\frac{a}{b}$, the set {a, b} and /users/{id} stay.") == [
        ("prose", "Use {{ site.title }} to print the title."),  # the writer's code: verbatim
        ("prose", "Escape it: {{ x }}."),
        ("prose", "A marked word, a lit one."),
        ("prose", "Text here."),
        ("prose", "Math $\\frac{a}{b}$, the set {a, b} and /users/{id} stay.")]


def test_code_keeps_the_tags_it_shows():
    assert kinds_and_texts("```markdown\n[a]({% post_url x %}) and {/* c */}\n```\n\n"
                           "    {% post_link a 'b' %}\n") == [
        ("code", "[a]({% post_url x %}) and {/* c */}"), ("code", "{% post_link a 'b' %}")]


# --- 2. MDX ----------------------------------------------------------------------------------

def test_mdx_expressions_comments_and_components(store, tmp_path):
    found = imported(store, tmp_path, "post.mdx", (
        "import Callout from './Callout';\n\n"
        "The answer is {props.answer}.\n\n"
        "Written in {new Date().getFullYear()} by me.\n\n"
        "A line {/* c */} with a comment, and{' '}a spacer.\n\n"
        '<Callout type="info">The words here are the writer\'s.</Callout>\n\n'
        "<Note>\n  These notes span\n  several lines.\n</Note>\n\n"
        '<Tabs>\n  <TabItem value="a" label="macOS">\n\n  Install it with *Homebrew*.\n\n'
        "  </TabItem>\n</Tabs>\n\n"
        "<q>Measure twice, cut once.</q>\n\n"
        '<Quote author="Seneca">Luck is what happens when preparation meets opportunity.'
        "</Quote>\n\n"
        "{/*\n  A comment over\n  several lines.\n*/}\n\n"
        '<YouTube id="x" />\n\n'
        '<CodeBlock language="bash">\nnpm install\n</CodeBlock>\n\n'
        '<Figure src="a.jpg" caption="The joint, before sanding" />\n\n'
        "<Aside>\nWords {props.x} here.\n</Aside>\n"))
    assert found == [
        ("markup", ""),
        ("markup", "The answer is {props.answer}."),
        ("markup", "Written in {new Date().getFullYear()} by me."),
        ("prose", "A line with a comment, and a spacer."),
        ("prose", "The words here are the writer's."),
        ("prose", "These notes span several lines."),
        ("prose", "Install it with Homebrew."),
        ("quote", "Measure twice, cut once."),
        ("quote", "Luck is what happens when preparation meets opportunity."),
        ("markup", ""),
        ("code", "npm install"),
        ("caption", "The joint, before sanding"),
        ("markup", "Words {props.x} here.")]


def test_a_paragraph_quoted_in_html_is_a_quote_and_one_that_quotes_is_prose():
    assert kinds_and_texts("<p><q>Only quoted words.</q></p>\n\n"
                           "<q>Quoted</q>, said my friend.") == [
        ("quote", "Only quoted words."), ("prose", "Quoted, said my friend.")]


# --- 3. captions -----------------------------------------------------------------------------

def test_image_tags_and_lone_images_give_their_captions(store, tmp_path):
    found = imported(store, tmp_path, "pictures.md", (
        "{% img /path/a.jpg 300 200 \"The bench, finished\" 'bench' %}\n\n"
        "{% img left /b.jpg 150 150 '\"Title in quotes\" \"alt in quotes\"' %}\n\n"
        '{% asset_img slug.jpg "A block plane" %}\n\n'
        "{% asset_img slug.jpg Shavings in plain words %}\n\n"
        '{{ figure(src="a.jpg", caption="A Zola caption") }}\n\n'
        '{% figure(src="b.jpg", caption="A Zola body caption") %}\n\n'
        '{{< figure src="c.jpg" caption="A Hugo caption" >}}\n\n'
        '{{< figure src="d.jpg" title="A Hugo title" alt="its alt" >}}\n\n'
        '![The harbour at dawn](x.jpg "Boats at anchor")\n\n'
        "![A dog on the beach](y.jpg)\n\n"
        "![image](z.jpg)\n\n![IMG_1234.jpg](w.jpg)\n\n![](v.jpg)\n\n"
        "{% img /c.jpg %}\n\n"
        '{% img /g1.jpg "The first of two" %}\n{% img /g2.jpg "The second of two" %}\n\n'
        "Words around ![an inline picture](i.png) stay prose.\n"))
    assert found == [
        ("caption", "The bench, finished"), ("caption", "Title in quotes"),
        ("caption", "A block plane"), ("caption", "Shavings in plain words"),
        ("caption", "A Zola caption"), ("caption", "A Zola body caption"),
        ("caption", "A Hugo caption"), ("caption", "A Hugo title"),
        ("image", ""), ("caption", "Boats at anchor"),
        ("image", ""), ("caption", "A dog on the beach"),
        ("image", ""), ("image", ""), ("image", ""),
        ("markup", ""),
        ("caption", "The first of two"), ("caption", "The second of two"),
        ("prose", "Words around stay prose.")]


@pytest.mark.parametrize("alt", ["image", "Image 3", "photo", "IMG_1234", "DSC01234.JPG",
                                 "my-cat-photo", "截图", "Screenshot 2023-01-01 at 10.00.00",
                                 "a", ""])
def test_an_alt_text_that_says_nothing_is_no_caption(alt):
    assert kinds_and_texts(f"![{alt}](a.png)") == [("image", "")]
    assert kinds_and_texts(f'<img src="a.png" alt="{alt}">') == [("image", "")]


# --- 4. definition lists ---------------------------------------------------------------------

def test_a_definition_lists_terms_are_headings_and_its_definitions_prose(store, tmp_path):
    found = imported(store, tmp_path, "glossary.md", (
        "Mortise\n: A hole cut into one piece of wood.\n\n"
        "Tenon\n: The tongue that fits the mortise.\n: Also a band, oddly.\n\n"
        "Not a term : just a colon in a sentence.\n"))
    assert found == [
        ("heading", "Mortise"), ("prose", "A hole cut into one piece of wood."),
        ("heading", "Tenon"), ("prose", "The tongue that fits the mortise."),
        ("prose", "Also a band, oddly."),
        ("prose", "Not a term : just a colon in a sentence.")]


# --- the fixture blog ------------------------------------------------------------------------

def test_the_messy_blogs_site_generator_posts():
    from engine.corpus import frontmatter

    body = frontmatter.parse((MESSY / "workshop-generators.md").read_text()).body
    assert kinds_and_texts(body) == [
        ("markup", "Welcome to {{ site.title }}, where I write about woodworking."),
        ("prose", "I wrote about sharpening in my post on chisels last spring, and about glue "
                  "in the glue post."),
        ("prose", "The glue story is in an older post, the clamps in this one and the bench in "
                  "the bench post."),
        ("caption", "The bench, finished at last"),
        ("caption", "A block plane after its first tune-up"),
        ("caption", "Shavings from the first pass"),
        ("image", ""), ("caption", "A dovetail joint, glued and clamped"), ("image", ""),
        ("heading", "Mortise"),
        ("prose", "A hole cut into one piece of wood to take the tenon of another."),
        ("heading", "Tenon"), ("prose", "The tongue on the end of a rail that fits the mortise."),
        ("markup", ""), ("markup", ""),
        ("prose", "The shop is quiet in winter, and that is when the best work gets done.")]
    body = frontmatter.parse((MESSY / "workshop-components.mdx").read_text()).body
    assert kinds_and_texts(body) == [
        ("markup", ""),
        ("markup", "The answer is {props.answer}, and it changes with every build."),
        ("prose", "A sentence with a comment in the middle."),
        ("prose", "Sharpen before you start, not halfway through a cut."),
        ("prose", "A dull chisel slips, and a slipping chisel cuts the wrong thing."),
        ("quote", "Measure twice, cut once."),
        ("markup", ""),
        ("code", "npm install --save chisel"),
        ("caption", "The finished joint, before sanding")]


def test_importing_these_posts_again_changes_nothing(store, tmp_path):
    for name in ("workshop-generators.md", "workshop-components.mdx"):
        (tmp_path / name).write_text((MESSY / name).read_text())
    importer.import_paths(store, [tmp_path])
    query = "SELECT id, kind, text, source FROM segments ORDER BY id"
    before = store.conn.execute(query).fetchall()
    again = importer.import_paths(store, [tmp_path])
    assert (again.imported, again.updated, again.segments_added) == (0, 0, 0)
    assert store.conn.execute(query).fetchall() == before
