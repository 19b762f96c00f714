"""The texts of the labelled story set (tests/support/story_articles.py): original,
hand-written articles about invented places, companies and people. Each is
``(key, event, outlet, title, *paragraphs)``; the set's code lives apart so that the words can
be read, and added to, on their own."""

from __future__ import annotations

Text = tuple[str, ...]

EVENTS: tuple[Text, ...] = (
    # --- event: a desalination plant opens -------------------------------------------------
    (
        "desal-courier",
        "desal",
        "courier",
        "Aldermoor Water Board opens Kestrel Bay desalination plant",
        "The Aldermoor Water Board switched on its new desalination plant at Kestrel Bay on Tuesday, "
        "ending four years of construction on a project that cost 310 million dollars.",
        "The plant can turn 60 million litres of seawater into drinking water each day, enough for "
        "roughly 40,000 homes during the dry summer months.",
        "Board chair Priya Nandakumar said the region could no longer rely on rainfall alone after "
        "three droughts in a decade.",
        '"This plant means taps keep running even when the reservoirs are low," Nandakumar told a '
        "crowd of engineers and local residents at the opening.",
        "The Coastal Watch Alliance, an environmental group, repeated its concern that brine pumped "
        "back into the bay could harm seagrass beds near the outflow pipe.",
        "The board said it would publish monitoring data on salt levels in the bay every month and "
        "would adjust the discharge if readings rose above agreed limits.",
    ),
    (
        "desal-ledger",
        "desal",
        "ledger",
        "Kestrel Bay plant starts turning seawater into tap water",
        "Drinking water from the sea began flowing into homes across the Aldermoor region this week "
        "as the Kestrel Bay desalination plant came online.",
        "Built by the Aldermoor Water Board over four years for 310 million dollars, the facility is "
        "designed to produce 60 million litres a day.",
        "Officials say that output covers about 40,000 households when demand peaks in summer.",
        "Priya Nandakumar, who chairs the water board, described the plant as insurance against the "
        "repeated droughts that emptied reservoirs in recent years.",
        "Nandakumar said customers would not see their bills rise to pay for it before 2028.",
        "Environmental campaigners at the Coastal Watch Alliance remain unconvinced, arguing that "
        "salty brine discharged into Kestrel Bay may damage seagrass and the fish that shelter in it.",
    ),
    (
        "desal-dispatch",
        "desal",
        "dispatch",
        "Seawater plant opens to drought-proof Aldermoor",
        "After three droughts in ten years, the towns around Aldermoor have a new source of water: the sea.",
        "The Aldermoor Water Board on Tuesday opened a 310 million dollar desalination works at "
        "Kestrel Bay that can process 60 million litres of seawater daily.",
        "According to the board, that is enough to supply some 40,000 homes at the height of summer.",
        "Speaking at the ceremony, board chair Priya Nandakumar said reservoirs alone could not "
        "secure supply for a growing population.",
        "Nandakumar promised monthly reports on the salt content of the bay.",
        "That pledge follows criticism from the Coastal Watch Alliance, which fears the brine "
        "outflow from the plant will harm seagrass meadows.",
        "The group said it would keep pressing for an independent review of the discharge.",
    ),
    # --- event: a drugmaker buys another -----------------------------------------------------
    (
        "merger-courier",
        "merger",
        "courier",
        "Tessaline Pharmaceuticals to buy Brightwater Biologics for 2.4 billion",
        "Tessaline Pharmaceuticals has agreed to acquire Brightwater Biologics in a deal worth 2.4 "
        "billion dollars, the two drugmakers said on Wednesday.",
        "The buyer will pay 38 dollars in cash for each share, a premium of about 45 percent on the "
        "closing price before the announcement.",
        "Chief executive Jonas Ekberg said the purchase would give his company a pipeline of "
        "antibody treatments for rare kidney diseases.",
        '"Their science fills the biggest gap in our portfolio," Ekberg said on a call with analysts.',
        "Shares in Brightwater Biologics jumped 41 percent in morning trading.",
        "The deal needs approval from the Competition Review Authority and from shareholders, and is "
        "expected to close in the first half of next year.",
    ),
    (
        "merger-ledger",
        "merger",
        "ledger",
        "Brightwater Biologics accepts 2.4 billion takeover offer",
        "Brightwater Biologics, a developer of antibody medicines for rare kidney disorders, is being "
        "bought by Tessaline Pharmaceuticals for 2.4 billion dollars.",
        "Under the agreement announced on Wednesday, investors will receive 38 dollars a share in cash.",
        "Jonas Ekberg, the chief executive of Tessaline Pharmaceuticals, told analysts the "
        "acquisition would strengthen its kidney medicine pipeline within two years.",
        "Ekberg said no job cuts were planned at the research site of the smaller company.",
        "Brightwater Biologics shares soared more than 40 percent on the news.",
        "The transaction still has to be cleared by the Competition Review Authority, and the "
        "companies expect it to complete in the first half of next year.",
    ),
    (
        "merger-dispatch",
        "merger",
        "dispatch",
        "Drugmaker strikes 2.4 billion deal for kidney specialist",
        "In the biggest pharmaceutical deal of the year so far, Tessaline Pharmaceuticals will take "
        "over Brightwater Biologics for 2.4 billion dollars.",
        "The offer of 38 dollars per share values the smaller company at a steep premium, and its "
        "board has backed the bid.",
        "For the buyer, the prize is work on antibody drugs for rare kidney conditions, two of which "
        "are in late-stage trials.",
        "Chief executive Jonas Ekberg called it a natural fit for the group.",
        "Ekberg expects the deal to close in the first half of next year if the Competition Review "
        "Authority approves it.",
        "Analysts said rival bidders were unlikely to emerge given the size of the premium.",
    ),
    # --- event: a bank's supplier is hacked --------------------------------------------------
    (
        "breach-courier",
        "breach",
        "courier",
        "Copperleaf Bank says hackers stole data of 1.2 million customers",
        "Copperleaf Bank said on Monday that hackers had stolen personal details belonging to 1.2 "
        "million of its customers after breaking into systems run by an outside supplier.",
        "The bank said names, home addresses and dates of birth were taken, but no passwords or card "
        "numbers.",
        "The attackers got in through Ostrava Cloud Services, a company that hosts the mailing "
        "platform the bank uses to write to customers.",
        "Lena Hartmann, the chief security officer of the bank, apologised to customers and said "
        "affected people would receive two years of free credit monitoring.",
        "Hartmann said the bank had notified the Financial Conduct Office and the police.",
        "Copperleaf Bank has ended its contract with the supplier while an investigation continues.",
    ),
    (
        "breach-ledger",
        "breach",
        "ledger",
        "Supplier hack exposes 1.2 million bank customers",
        "About 1.2 million people who bank with Copperleaf Bank have had their names, addresses and "
        "birth dates exposed in a cyberattack on one of its technology suppliers.",
        "The breach happened at Ostrava Cloud Services, which runs the mailing system the bank uses "
        "to send letters and statements.",
        "Lena Hartmann, chief security officer at Copperleaf Bank, said no account passwords or "
        "payment card details were accessed.",
        "Hartmann added that customers would be offered free credit monitoring for two years.",
        "The incident has been reported to the Financial Conduct Office, which said it was making enquiries.",
        "Security experts warned customers to be wary of scam calls that use stolen personal details "
        "to sound convincing.",
    ),
    (
        "breach-dispatch",
        "breach",
        "dispatch",
        "Bank cuts ties with cloud supplier after data theft",
        "Copperleaf Bank has dropped Ostrava Cloud Services after criminals used the systems of the "
        "supplier to steal the records of 1.2 million bank customers.",
        "The stolen files contained names, addresses and dates of birth, the bank said on Monday, "
        "adding that it had found no sign that money had been taken from accounts.",
        "In a letter to customers, chief security officer Lena Hartmann said two years of credit "
        "monitoring would be provided at no cost.",
        "Hartmann also said the police and the Financial Conduct Office had been informed.",
        "Ostrava Cloud Services said it was working with investigators and had closed the weakness "
        "the attackers used.",
    ),
    # --- event: a city approves a tram line --------------------------------------------------
    (
        "tram-courier",
        "tram",
        "courier",
        "Glenmore approves 480 million tram extension",
        "Glenmore City Council voted on Thursday to extend the tram network with a new Riverside "
        "Line running nine kilometres from the central station to the eastern suburbs.",
        "The extension will cost 480 million dollars and add eleven stops.",
        "Council leader Samuel Achebe said the first trams should run on the new route in 2029.",
        '"This line connects neighbourhoods that have been cut off from the city centre for '
        'decades," Achebe said after the vote, which passed by 41 votes to 9.',
        "Opposition councillors argued the money would be better spent on buses, which could serve "
        "more areas for the same cost.",
        "Construction is due to begin next spring.",
    ),
    (
        "tram-ledger",
        "tram",
        "ledger",
        "Riverside Line tram extension gets green light",
        "Trams will reach the eastern suburbs of Glenmore by 2029 after councillors approved the "
        "long-debated Riverside Line.",
        "Councillors on Glenmore City Council backed the nine-kilometre, 480 million dollar project "
        "by 41 votes to 9 at a meeting on Thursday.",
        "The route will have eleven stops between the central station and the eastern districts.",
        "Samuel Achebe, the council leader, said the extension would cut journey times for tens of "
        "thousands of commuters.",
        "Achebe said building work would start next spring.",
        "Critics on the council said a cheaper bus network would have reached more residents, and "
        "warned that tram projects often run over budget.",
    ),
    (
        "tram-dispatch",
        "tram",
        "dispatch",
        "Councillors vote for new tram line to the east",
        "A nine-kilometre tram line linking central Glenmore with its eastern neighbourhoods will be "
        "built after a vote by Glenmore City Council on Thursday.",
        "The Riverside Line is budgeted at 480 million dollars and will serve eleven new stops.",
        "Council leader Samuel Achebe told reporters the first passengers would board in 2029.",
        "Achebe called the decision the most important transport investment in a generation.",
        "The plan passed by 41 votes to 9, with opponents saying express buses would be cheaper and "
        "quicker to deliver.",
        "Work on the track is expected to start next spring.",
    ),
    # --- event: a carmaker recalls a model ---------------------------------------------------
    (
        "recall-courier",
        "recall",
        "courier",
        "Vantor Motors recalls 85,000 electric cars over battery fault",
        "Vantor Motors is recalling 85,000 of its Vantor Aria electric cars because a faulty battery "
        "cooling pump can cause the battery to overheat.",
        "The National Vehicle Safety Agency said it knew of 14 fires linked to the fault, none of "
        "which caused serious injuries.",
        "Owners will be asked to bring their cars to a dealer, where the pump will be replaced free "
        "of charge in about two hours.",
        "Company spokesperson Carla Mendes said replacement parts would be available from next month.",
        "Until then, Mendes said, owners should avoid charging the car to more than 80 percent.",
        "The recall covers cars built between March 2024 and June 2025.",
    ),
    (
        "recall-ledger",
        "recall",
        "ledger",
        "Overheating risk forces recall of 85,000 cars",
        "The National Vehicle Safety Agency has ordered a recall of 85,000 Vantor Aria electric cars "
        "after reports of batteries overheating and catching fire.",
        "Fourteen fires have been traced to a defective cooling pump, according to the agency.",
        "Vantor Motors said dealers would fit a new pump at no cost to owners, a job that takes "
        "around two hours.",
        "Carla Mendes, a spokesperson for Vantor Motors, said parts would arrive at dealerships next month.",
        "In the meantime Mendes advised drivers to keep the battery charge below 80 percent.",
        "Cars made from March 2024 to June 2025 are affected.",
    ),
    (
        "recall-dispatch",
        "recall",
        "dispatch",
        "Carmaker pulls back electric hatchbacks after fires",
        "Fourteen battery fires have prompted Vantor Motors to recall 85,000 Vantor Aria electric "
        "cars, the carmaker confirmed on Friday.",
        "A cooling pump inside the battery pack can fail, letting the cells overheat, according to a "
        "notice published by the National Vehicle Safety Agency.",
        "A spokesperson, Carla Mendes, said the replacement would take a dealer about two hours and "
        "cost owners nothing.",
        "Mendes said parts would be in stock next month and urged owners not to charge above 80 "
        "percent until then.",
        "The affected cars were built between March 2024 and June 2025.",
        "It is the second recall of the model in a year, after a software problem with its braking "
        "system last autumn.",
    ),
    # --- event: a festival is cut short by a storm (two outlets) ----------------------------
    (
        "festival-courier",
        "festival",
        "courier",
        "Storm forces folk festival to cancel final day",
        "Organisers of the Hollowell Folk Festival cancelled the final day of the event on Sunday "
        "after a storm brought winds of up to 110 kilometres an hour to the festival site.",
        "About 30,000 people had tickets for the last day, when the headline acts were due to perform.",
        "Festival director Ruth Calloway said the decision was made after two marquees were damaged "
        "overnight.",
        '"Nobody wanted this, but safety has to come first," Calloway said.',
        "Ticket holders for Sunday will receive full refunds within 14 days, the organisers said.",
        "The Hollowell Folk Festival has run every summer since 1987 and has only been cancelled "
        "once before, during a flood in 2007.",
    ),
    (
        "festival-ledger",
        "festival",
        "ledger",
        "Hollowell Folk Festival calls off Sunday as gales batter site",
        "Gales of up to 110 kilometres an hour have forced the Hollowell Folk Festival to scrap its "
        "closing day, disappointing around 30,000 fans.",
        "Ruth Calloway, the director of the festival, said two large tents were torn overnight and "
        "the ground had become unsafe.",
        "Calloway said everyone with a Sunday ticket would get their money back within 14 days.",
        "Headliners who were due to close the festival said on social media they hoped to return next year.",
        "It is only the second time the event, first held in 1987, has been cancelled; floods "
        "stopped it in 2007.",
        "Campers were asked to leave the site by Sunday afternoon, and extra buses were laid on to "
        "the railway station.",
    ),
)

DECOYS: tuple[Text, ...] = (
    # --- decoys: the same entities, another event --------------------------------------------
    (
        "decoy-tessaline-trial",
        "decoy-tessaline-trial",
        "ledger",
        "Tessaline cuts forecast after migraine drug trial fails",
        "Tessaline Pharmaceuticals lowered its annual profit forecast on Thursday after its "
        "experimental migraine drug failed to beat a placebo in a large clinical trial.",
        "The company had expected the pill to reach the market in 2028 and to bring in sales of "
        "several hundred million dollars a year.",
        "Chief executive Jonas Ekberg said the result was disappointing but that the research budget "
        "would stay unchanged.",
        "Ekberg said the group would focus on its kidney and heart programmes instead.",
        "Shares in Tessaline Pharmaceuticals fell 12 percent, their largest one-day drop in five years.",
        "The trial enrolled 1,900 patients across 14 countries, and full results will be presented "
        "at a medical conference in the spring.",
    ),
    (
        "decoy-copperleaf-mortgages",
        "decoy-copperleaf-mortgages",
        "courier",
        "Copperleaf Bank cuts mortgage rates for first-time buyers",
        "Copperleaf Bank is lowering interest rates on its fixed mortgages for first-time buyers by "
        "half a percentage point from next week.",
        "The bank said the cheapest five-year deal would fall to 3.9 percent, one of the lowest "
        "rates on the market.",
        "Mortgage director Tobias Wren said lower wholesale funding costs had made the cut possible.",
        "Wren said the bank wanted to lend 2 billion dollars to first-time buyers this year, up from "
        "1.4 billion last year.",
        "Brokers welcomed the move but said house prices in many towns remained out of reach for "
        "young buyers even with cheaper loans.",
        "Copperleaf Bank has around 4 million customers and 210 branches.",
    ),
    (
        "decoy-vantor-factory",
        "decoy-vantor-factory",
        "dispatch",
        "Vantor Motors to build second factory as sales climb",
        "Vantor Motors will build a second car factory to keep up with demand for its Vantor Aria "
        "electric hatchback, the company said on Tuesday.",
        "The plant will cost 1.1 billion dollars and is expected to produce 150,000 cars a year from 2028.",
        "Vantor Motors sold 210,000 cars last year, more than double the year before, with the "
        "Vantor Aria making up most of its sales.",
        "Chief operating officer Daniel Varga said the site would be chosen by the end of the year.",
        "Varga said three regions were competing for the factory and the jobs it would bring.",
        "Analysts said the expansion was a bold bet at a time when electric car sales across the "
        "industry have slowed.",
    ),
    # --- decoys: the same topic, other actors ------------------------------------------------
    (
        "decoy-lindow-desal",
        "decoy-lindow-desal",
        "dispatch",
        "Eastmarch Utilities delays Port Lindow desalination plant",
        "Eastmarch Utilities has pushed back the opening of its desalination plant at Port Lindow by "
        "eighteen months after problems with the seawater intake pipes.",
        "The plant, which was due to start supplying drinking water next spring, will now open in late 2027.",
        "Operations director Farid Haddad said divers had found that the intake pipes were clogging "
        "with sand faster than the designers expected.",
        "Haddad said the fix would add about 45 million dollars to the 260 million budget.",
        "Residents in the dry coastal towns served by the utility have faced water restrictions in "
        "each of the past three summers.",
        "Environmental groups said the delay was a chance to redesign the brine outflow to protect "
        "marine life.",
    ),
    (
        "decoy-hollis-breach",
        "decoy-hollis-breach",
        "courier",
        "Hollis Insurance Group reports breach of 300,000 customer records",
        "Hollis Insurance Group said criminals had accessed the records of 300,000 policyholders "
        "after the password of an employee was stolen in a phishing attack.",
        "The files included names, addresses, dates of birth and in some cases policy numbers, the "
        "insurer said on Wednesday.",
        "Chief executive Naomi Sutherland said the company had no evidence that the data had been "
        "published or sold.",
        "Sutherland said customers would be offered a year of free identity protection.",
        "The insurer has informed the data protection regulator and hired an outside firm to investigate.",
        "Hollis Insurance Group has 2.5 million customers, mostly for home and car insurance.",
    ),
    (
        "decoy-brackenford-rail",
        "decoy-brackenford-rail",
        "ledger",
        "Brackenford approves light rail line to its airport",
        "The Brackenford Transit Authority has approved a light rail line connecting the airport "
        "with the main shopping district of the city.",
        "The twelve-kilometre route will cost 620 million dollars and include eight stops.",
        "Authority chair Miriam Osei said trains should begin running in 2030.",
        "Osei said the line would take thousands of cars off the airport road every day.",
        "Some residents objected to the route, which passes close to a nature reserve, and asked for "
        "a tunnel under the wetlands instead.",
        "Construction is expected to start in two years once funding from the national government is "
        "confirmed.",
    ),
    (
        "decoy-kinley-deal",
        "decoy-kinley-deal",
        "courier",
        "Marrowfield Health agrees 900 million deal for Kinley Diagnostics",
        "Marrowfield Health will buy Kinley Diagnostics, a maker of rapid blood tests, for 900 "
        "million dollars in cash, the companies said on Monday.",
        "The buyer is offering 22 dollars for each share, about 30 percent more than their value "
        "before talks were reported.",
        "Chief executive Oliver Brandt said the deal would let Marrowfield Health sell tests "
        "alongside its hospital equipment.",
        "Brandt expects the acquisition to be completed by the end of the year, subject to "
        "regulatory approval.",
        "The board of Kinley Diagnostics has recommended that shareholders accept the offer.",
        "Analysts said the price was fair given the fast sales growth of the test maker.",
    ),
)
